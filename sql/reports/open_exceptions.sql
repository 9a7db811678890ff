-- Open exceptions as of $as_of for the people who must act on them: flagged time entries, unmatched
-- billing lines, contractor-hours gaps, and open master-data and quarantine exceptions.
SELECT owner, 'time_entry' AS kind, CAST(time_entry_id AS VARCHAR) AS record_key, recon_status, reason, project_code,
       amount_at_risk, currency, age_days,
       'work ' || work_date || ', ' || quantity || ' h' || coalesce(', invoices ' || invoice_numbers, '') AS detail
FROM recon.time_to_bill WHERE as_of_date = $as_of AND owner IS NOT NULL
UNION ALL
SELECT owner, 'billing_line', invoice_number || ' line ' || line, recon_status, NULL, project_code, amount, currency, NULL,
       item || coalesce(', PSA time entry ' || psa_time_entry_id, '')
FROM recon.billing_line_exceptions WHERE as_of_date = $as_of
UNION ALL
SELECT owner, 'contractor_hours', period_id || ' ' || employee_id, recon_status, NULL, NULL, NULL, NULL, NULL,
       'paid ' || coalesce(CAST(hours_paid AS VARCHAR), '-') || ' h, approved ' || round(approved_hours, 2)
       || ' h, late approvals ' || late_approval_count
FROM recon.contractor_hours WHERE as_of_date = $as_of AND owner IS NOT NULL
UNION ALL
SELECT coalesce(owner, 'integration'), layer || ':' || object, record_key, rule, NULL, NULL, NULL, NULL, NULL, message
FROM ops.exceptions WHERE resolved_at IS NULL AND layer IN ('extract', 'canonical')
ORDER BY owner, kind, amount_at_risk DESC NULLS LAST, record_key
