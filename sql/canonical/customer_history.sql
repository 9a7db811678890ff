-- ERP customers from every snapshot file; labelled headers to snake_case, Yes/No to booleans.
SELECT CAST(internal_id AS BIGINT) AS customer_id, customer_id AS customer_code, company_name,
       CAST(subsidiary AS BIGINT) AS subsidiary_id, currency, nullif(salesforce_account_id, '') AS salesforce_account_id,
       tax_code, terms, inactive = 'Yes' AS inactive, CAST(last_modified AS TIMESTAMP) AS last_modified,
       _file_date AS snapshot_date, _record_key, _record_hash, _extract_id
FROM raw.erp_customers WHERE delivered(_extract_id, _source_file)
