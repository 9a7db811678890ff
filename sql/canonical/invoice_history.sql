-- Every version of every ERP invoice header from the daily delta files.
SELECT CAST(internal_id AS BIGINT) AS invoice_id, document_number AS invoice_number, CAST(customer AS BIGINT) AS customer_id,
       CAST(subsidiary AS BIGINT) AS subsidiary_id, CAST(date AS DATE) AS invoice_date, CAST(due_date AS DATE) AS due_date,
       currency, CAST(exchange_rate AS DECIMAL(18, 6)) AS exchange_rate, status, nullif(billing_batch_id, '') AS billing_batch_id,
       memo, CAST(date_created AS TIMESTAMP) AS date_created, CAST(last_modified AS TIMESTAMP) AS last_modified,
       _file_date AS file_date, _source_file, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.erp_invoices WHERE delivered(_extract_id, _source_file)
