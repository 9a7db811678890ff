-- ERP rate card rows from every snapshot file; rates keep 4 decimals.
SELECT rate_card_id, role, region, currency, CAST(hourly_rate AS DECIMAL(18, 4)) AS hourly_rate,
       CAST(effective_from AS DATE) AS effective_from, CAST(effective_to AS DATE) AS effective_to,
       _file_date AS snapshot_date, _record_key, _record_hash, _extract_id
FROM raw.erp_rate_cards WHERE delivered(_extract_id, _source_file)
