-- Every version of every PSA milestone: cents to money.
SELECT milestone_id, project_id, name AS milestone_name, amount_in_cents,
       CAST(CAST(amount_in_cents AS DECIMAL(38, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2)) AS amount,
       currency, due_date, status, accepted_at, updated_at,
       _source_ts, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.psa_milestones
