-- Every version of every PSA assignment.
SELECT assignment_id, project_id, resource_id, role, start_date, end_date, CAST(hours_per_week AS DECIMAL(10, 2)) AS hours_per_week,
       updated_at, _source_ts, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.psa_assignments
