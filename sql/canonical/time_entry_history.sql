-- Every revision of every PSA time entry: minutes to hours (exact) and to the billing quantity (2 decimals).
SELECT time_entry_id, revision, resource_id, project_id, task_code, date_performed AS work_date,
       time_in_minutes, time_in_minutes / 60.0 AS hours, quantity_of_minutes(time_in_minutes) AS quantity,
       billable, status, submitted_at, approved_at, approver_resource_id, notes, deleted_at, updated_at,
       _source_ts, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.psa_time_entries
