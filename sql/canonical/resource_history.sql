-- Every version of every PSA resource.
SELECT resource_id, nullif(trim(hr_employee_id), '') AS hr_employee_id, full_name, role, region, active, updated_at,
       _source_ts, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.psa_resources
