-- ERP tax codes from every snapshot file; '20%' becomes the fraction 0.2.
SELECT tax_code, country,
       CAST(CAST(rtrim(rate, '%') AS DECIMAL(9, 4)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(9, 6)) AS tax_rate,
       CAST(effective_from AS DATE) AS effective_from, _file_date AS snapshot_date, _record_key, _record_hash, _extract_id
FROM raw.erp_tax_codes WHERE delivered(_extract_id, _source_file)
