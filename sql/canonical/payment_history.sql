-- Every ERP payment from the daily delta files.
SELECT CAST(internal_id AS BIGINT) AS payment_id, CAST(invoice_internal_id AS BIGINT) AS invoice_id,
       CAST(date AS DATE) AS payment_date, CAST(amount AS DECIMAL(18, 2)) AS amount, currency,
       _file_date AS file_date, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.erp_payments WHERE delivered(_extract_id, _source_file)
