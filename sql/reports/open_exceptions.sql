-- Open exceptions as of $as_of: the one list of what somebody must act on, used by `pssync exceptions`, the
-- report and the demo summary alike. It holds: time entries recon flags for an owner (entries held by a faulty
-- input are counted once, as that input's billing hold); lines of invoices that cannot be matched;
-- contractor-hours gaps; billing holds; and the open data-quality exceptions of the extract and canonical
-- layers (record-level: unparseable rows, contract violations, crosswalk gaps).
-- amount_at_risk is in `currency`; amount_at_risk_reporting in the reporting currency.
SELECT owner, 'time_entry' AS kind, CAST(time_entry_id AS VARCHAR) AS record_key, recon_status, reason, project_code,
       amount_at_risk, currency, amount_at_risk_reporting, age_days,
       'work ' || work_date || ', ' || quantity || ' h' || coalesce(', invoices ' || invoice_numbers, '') AS detail
FROM recon.time_to_bill
WHERE as_of_date = $as_of AND owner IS NOT NULL AND reason IS DISTINCT FROM 'INPUT_HELD'
UNION ALL
SELECT owner, 'billing_line', invoice_number || ' line ' || line, recon_status, NULL, project_code, amount, currency,
       CAST(NULL AS DECIMAL(18, 2)), NULL, item || coalesce(', PSA time entry ' || psa_time_entry_id, '')
FROM recon.billing_line_exceptions WHERE as_of_date = $as_of
UNION ALL
SELECT owner, 'contractor_hours', period_id || ' ' || employee_id, recon_status, NULL, NULL, NULL, NULL, NULL, NULL,
       'paid ' || coalesce(CAST(hours_paid AS VARCHAR), '-') || ' h, approved ' || round(approved_hours, 2)
       || ' h, late approvals ' || late_approval_count
FROM recon.contractor_hours WHERE as_of_date = $as_of AND owner IS NOT NULL
UNION ALL
SELECT h.owner, 'billing_hold', h.scope || ':' || coalesce(h.scope_key, '*'), 'BILLING_HELD', h.rule, NULL,
       sum(t.amount_at_risk), NULL, sum(t.amount_at_risk_reporting), NULL, h.hold
FROM recon.billing_holds h
LEFT JOIN recon.time_to_bill t ON t.as_of_date = h.as_of_date AND t.reason = 'INPUT_HELD' AND t.billing_hold = h.hold
WHERE h.as_of_date = $as_of
GROUP BY ALL
UNION ALL
SELECT coalesce(owner, 'integration'), layer || ':' || object, record_key, rule, NULL, NULL, NULL, NULL, NULL, NULL,
       message
FROM ops.exceptions WHERE resolved_at IS NULL AND layer IN ('extract', 'canonical')
ORDER BY owner ASC, kind ASC, amount_at_risk_reporting DESC NULLS LAST, record_key ASC
