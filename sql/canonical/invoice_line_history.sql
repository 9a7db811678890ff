-- Every ERP invoice line from every daily delta file.
SELECT CAST(invoice_internal_id AS BIGINT) AS invoice_id, CAST(line AS BIGINT) AS line, item, project_code,
       CAST(quantity AS DECIMAL(18, 2)) AS quantity, CAST(rate AS DECIMAL(18, 4)) AS rate,
       CAST(amount AS DECIMAL(18, 2)) AS amount, tax_code, CAST(tax_amount AS DECIMAL(18, 2)) AS tax_amount,
       CAST(psa_time_entry_id AS BIGINT) AS psa_time_entry_id, CAST(psa_milestone_id AS BIGINT) AS psa_milestone_id,
       CAST(psa_expense_id AS BIGINT) AS psa_expense_id, CAST(service_date AS DATE) AS service_date,
       _file_date AS file_date, _source_file, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.erp_invoice_lines WHERE delivered(_extract_id, _source_file)
