-- marts.project_margin as of $as_of: per (project, month of work), revenue (the billed value of
-- realization_monthly) against labor cost (hours x the worker's Hourly_Cost_Rate in force on the work
-- date), both in the reporting currency at the ERP rate of the work date (cost) or month end (revenue).
-- $legal_entities (VARCHAR[]): the entities whose projects are wanted (a project's entity on the as-of date).
WITH
labor AS (  -- live-approved work, at the cost rate in force on the work date
    SELECT t.project_code, t.legal_entity, CAST(date_trunc('month', t.work_date) AS DATE) AS month, t.work_date, t.hours,
           v.hourly_cost_rate, v.cost_rate_currency
    FROM recon.time_to_bill t
    JOIN canonical.employee_spans_asof($as_of::DATE) v
      ON v.employee_id = t.employee_id AND t.work_date >= v.span_from AND t.work_date < v.span_to
    WHERE t.as_of_date = $as_of::DATE AND t.live_approved AND list_contains($legal_entities, t.legal_entity)
),
cost AS (
    SELECT l.project_code, l.legal_entity, l.month,
           sum(in_currency(round(CAST(l.hours AS DECIMAL(18, 6)) * l.hourly_cost_rate, 2), l.cost_rate_currency,
                           $reporting, l.work_date, $as_of::DATE)) AS labor_cost_reporting
    FROM labor l
    GROUP BY 1, 2, 3
),
revenue AS (
    SELECT project_code, legal_entity, month, sum(billed_value_reporting) AS revenue_reporting
    FROM marts.realization_monthly
    WHERE as_of_date = $as_of::DATE AND list_contains($legal_entities, legal_entity)
    GROUP BY 1, 2, 3
)
SELECT coalesce(r.project_code, c.project_code) AS project_code, coalesce(r.month, c.month) AS month,
       $reporting AS reporting_currency,
       CAST(coalesce(r.revenue_reporting, 0) AS DECIMAL(18, 2)) AS revenue,
       CAST(coalesce(c.labor_cost_reporting, 0) AS DECIMAL(18, 2)) AS labor_cost,
       CAST(coalesce(r.revenue_reporting, 0) - coalesce(c.labor_cost_reporting, 0) AS DECIMAL(18, 2)) AS margin,
       CAST(coalesce(r.revenue_reporting, 0) - coalesce(c.labor_cost_reporting, 0) AS DOUBLE)
           / nullif(CAST(coalesce(r.revenue_reporting, 0) AS DOUBLE), 0) AS margin_pct,
       coalesce(r.legal_entity, c.legal_entity) AS legal_entity,
       $as_of::DATE AS as_of_date
FROM revenue r FULL OUTER JOIN cost c ON c.project_code = r.project_code AND c.legal_entity = r.legal_entity AND c.month = r.month
ORDER BY 1, 2
