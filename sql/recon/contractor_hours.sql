-- recon.contractor_hours for as-of date $as_of: per (closed pay period, contingent worker), hours paid by
-- payroll against live-approved PSA hours worked in the period, and entries approved after the lock date.
-- $scoped: read only the entries of ops.recon_scope: those of the (worker, period) pairs of
-- sql/recon/contractor_scope.sql (at most a tenth of a firm's entries: their history is aggregated, not everyone's;
-- assets/recon/assets.py).
WITH periods AS (SELECT * FROM canonical.pay_period_asof($as_of::DATE) WHERE lock_date <= $as_of::DATE),
contingent AS (
    SELECT employee_id, legal_entity FROM canonical.employee_latest_asof($as_of::DATE)
    WHERE is_contingent(worker_type)
),
worked AS (
    SELECT p.period_id, x.employee_id,
           sum(t.time_in_minutes) AS minutes,
           count(*) FILTER (WHERE CAST(t.approved_at AS DATE) > p.lock_date) AS late_approval_count
    FROM canonical.time_entry_asof($as_of::DATE, scoped := $scoped) t
    JOIN canonical.xwalk_resource_employee_asof($as_of::DATE) x ON x.resource_id = t.resource_id AND x.match_status = 'MATCHED'
    JOIN contingent c ON c.employee_id = x.employee_id
    JOIN periods p ON p.legal_entity = c.legal_entity AND t.work_date BETWEEN p.start_date AND p.end_date
    WHERE t.live_approved
    GROUP BY 1, 2
),
paid AS (SELECT h.* FROM canonical.contractor_hours_asof($as_of::DATE) h JOIN periods p USING (period_id))
SELECT coalesce(w.period_id, h.period_id) AS period_id, coalesce(w.employee_id, h.employee_id) AS employee_id,
       p.legal_entity, p.start_date, p.end_date, p.lock_date,
       h.hours_paid, coalesce(w.minutes, 0) / 60.0 AS approved_hours,
       CAST(round(coalesce(w.minutes, 0) / 60.0 - coalesce(h.hours_paid, 0), 2) AS DECIMAL(18, 2)) AS difference,
       coalesce(w.late_approval_count, 0) AS late_approval_count,
       CASE WHEN coalesce(w.late_approval_count, 0) > 0 THEN 'LATE_APPROVAL'
            WHEN abs(coalesce(w.minutes, 0) / 60.0 - coalesce(h.hours_paid, 0)) > 0.005 THEN 'HOURS_DIFFER'
            ELSE 'MATCHED' END AS recon_status,
       CASE WHEN coalesce(w.late_approval_count, 0) > 0
                 OR abs(coalesce(w.minutes, 0) / 60.0 - coalesce(h.hours_paid, 0)) > 0.005 THEN 'hr' END AS owner,
       $as_of::DATE AS as_of_date
FROM worked w
FULL OUTER JOIN paid h ON h.period_id = w.period_id AND h.employee_id = w.employee_id
JOIN periods p ON p.period_id = coalesce(w.period_id, h.period_id)
ORDER BY 1, 2
