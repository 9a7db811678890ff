-- The (contingent worker, closed pay period) pairs recon.contractor_hours computes for as-of date $as_of, with the
-- worker's PSA resources and the period's dates: contingent workers matched to a resource on that date, and the
-- periods of their legal entity locked by then. $partial (an incremental rerun): only the pairs where one of the
-- worker's resources worked, in any version, an entry ops.recon_scope marks recomputed (one that arrived since
-- the last run) on a date of the period: a worker's hours in a period depend on those entries alone.
WITH workers AS (
    SELECT DISTINCT x.employee_id, x.resource_id, e.legal_entity
    FROM canonical.xwalk_resource_employee_asof($as_of::DATE) AS x
    INNER JOIN canonical.employee_latest_asof($as_of::DATE) AS e ON x.employee_id = e.employee_id
    WHERE x.match_status = 'MATCHED' AND is_contingent(e.worker_type)
),
periods AS (
    SELECT period_id, legal_entity, start_date, end_date
    FROM canonical.pay_period_asof($as_of::DATE) WHERE lock_date <= $as_of::DATE
),
pairs AS (
    SELECT w.employee_id, w.resource_id, p.period_id, p.start_date, p.end_date
    FROM workers AS w INNER JOIN periods AS p ON w.legal_entity = p.legal_entity
),
arrived AS (  -- the (worker, period) of every version of the entries that arrived
    SELECT DISTINCT a.employee_id, a.period_id
    FROM canonical.time_entry_history AS h
    INNER JOIN pairs AS a ON h.resource_id = a.resource_id AND h.work_date BETWEEN a.start_date AND a.end_date
    WHERE $partial AND recomputed_by_recon(h.time_entry_id, $partial)
)
SELECT employee_id, resource_id, period_id, start_date, end_date FROM pairs
WHERE NOT $partial OR (employee_id, period_id) IN (SELECT r.employee_id, r.period_id FROM arrived AS r)
