-- marts.staffing_forecast as of $as_of: per (month, role, region) from the as-of month on. Demand: the
-- staffing plans of open opportunities with Probability >= $threshold, spread evenly over their working days
-- (Monday-Friday) from Start_Date__c to End_Date__c and weighted by probability. Capacity: workers employed
-- that month with that Job_Profile, in the region of their PSA resource, Scheduled_Weekly_Hours / 5 per
-- working day that is not a holiday in their country. Assigned: PSA assignments in that role and region,
-- hours_per_week / 5 per working day. Gap = demand - (capacity - assigned).
WITH
horizon AS (
    SELECT CAST(date_trunc('month', $as_of::DATE) AS DATE) AS m0,
           CAST(date_trunc('month', $as_of::DATE) + INTERVAL 12 MONTH AS DATE) AS m_end
),
days AS (
    SELECT CAST(range AS DATE) AS day FROM horizon, range(horizon.m0, horizon.m_end, INTERVAL 1 DAY)
    WHERE isodow(CAST(range AS DATE)) <= 5
),
opps AS (
    SELECT o.opportunity_id, o.probability, o.start_date, o.end_date,
           unnest(json_transform(o.staffing_plan, '[{"role": "VARCHAR", "region": "VARCHAR", "hours": "DOUBLE"}]')) AS item
    FROM canonical.opportunity_asof($as_of::DATE) o
    WHERE NOT o.is_closed AND o.probability >= $threshold AND o.staffing_plan IS NOT NULL
      AND o.start_date IS NOT NULL AND o.end_date IS NOT NULL AND o.end_date >= o.start_date
),
opp_days AS (
    SELECT o.opportunity_id, count(*) AS n_days FROM opps o
    JOIN (SELECT CAST(range AS DATE) AS day FROM range(DATE '2000-01-01', DATE '2100-01-01', INTERVAL 1 DAY)) d
      ON d.day BETWEEN o.start_date AND o.end_date AND isodow(d.day) <= 5
    GROUP BY 1
),
demand AS (
    SELECT CAST(date_trunc('month', d.day) AS DATE) AS month, o.item.role AS role, o.item.region AS region,
           -- each day's share to 6 decimals, then an exact sum: the same figure whatever order the rows come in
           sum(CAST(o.item.hours * o.probability / 100.0 / od.n_days AS DECIMAL(18, 6))) AS demand_hours
    FROM opps o JOIN (SELECT DISTINCT opportunity_id, n_days FROM opp_days) od USING (opportunity_id)
    JOIN days d ON d.day BETWEEN o.start_date AND o.end_date
    GROUP BY 1, 2, 3
),
workers AS (
    SELECT employee_id, job_profile AS role, country, scheduled_weekly_hours AS weekly, hire_date, termination_date
    FROM canonical.employee_latest_asof($as_of::DATE)
),
regions AS (
    SELECT x.employee_id, arg_max(r.region, r.resource_id) AS region
    FROM canonical.xwalk_resource_employee_asof($as_of::DATE) x
    JOIN canonical.resource_asof($as_of::DATE) r USING (resource_id)
    WHERE x.match_status = 'MATCHED' GROUP BY 1
),
capacity AS (
    SELECT CAST(date_trunc('month', d.day) AS DATE) AS month, w.role, g.region, sum(w.weekly / 5) AS capacity_hours
    FROM workers w JOIN regions g USING (employee_id)
    JOIN days d ON d.day >= w.hire_date AND (w.termination_date IS NULL OR d.day <= w.termination_date)
    LEFT JOIN canonical.holiday_asof($as_of::DATE) h ON h.country = w.country AND h.holiday_date = d.day
    WHERE h.holiday_date IS NULL
    GROUP BY 1, 2, 3
),
assigned AS (
    SELECT CAST(date_trunc('month', d.day) AS DATE) AS month, a.role, r.region, sum(a.hours_per_week / 5) AS assigned_hours
    FROM canonical.assignment_asof($as_of::DATE) a
    JOIN canonical.resource_asof($as_of::DATE) r USING (resource_id)
    JOIN days d ON d.day BETWEEN a.start_date AND coalesce(a.end_date, DATE '9999-12-31')
    GROUP BY 1, 2, 3
),
grid AS (
    SELECT month, role, region FROM demand
    UNION SELECT month, role, region FROM capacity
    UNION SELECT month, role, region FROM assigned
)
SELECT g.month, g.role, g.region,
       CAST(round(coalesce(dm.demand_hours, 0), 2) AS DECIMAL(18, 2)) AS demand_hours,
       CAST(coalesce(c.capacity_hours, 0) AS DECIMAL(18, 2)) AS capacity_hours,
       CAST(coalesce(a.assigned_hours, 0) AS DECIMAL(18, 2)) AS assigned_hours,
       CAST(round(coalesce(dm.demand_hours, 0) - (coalesce(c.capacity_hours, 0) - coalesce(a.assigned_hours, 0)), 2)
            AS DECIMAL(18, 2)) AS gap,
       $as_of::DATE AS as_of_date
FROM grid g
LEFT JOIN demand dm USING (month, role, region)
LEFT JOIN capacity c USING (month, role, region)
LEFT JOIN assigned a USING (month, role, region)
ORDER BY 1, 2, 3
