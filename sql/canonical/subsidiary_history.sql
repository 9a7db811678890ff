-- ERP subsidiaries (legal entities) from every snapshot file.
SELECT CAST(internal_id AS BIGINT) AS subsidiary_id, name AS subsidiary_name, legal_entity_code AS legal_entity,
       country, currency, _file_date AS snapshot_date, _record_key, _record_hash, _extract_id
FROM raw.erp_subsidiaries WHERE delivered(_extract_id, _source_file)
