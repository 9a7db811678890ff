-- Every version of every PSA expense: cents to money.
SELECT expense_id, resource_id, project_id, expense_date, category, amount_in_cents,
       CAST(CAST(amount_in_cents AS DECIMAL(38, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2)) AS amount,
       currency, billable, status, approved_at, deleted_at, updated_at,
       _source_ts, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.psa_expenses
