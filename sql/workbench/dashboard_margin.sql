-- The workbench dashboard's project margin for the last complete month before $as_of (reporting currency):
-- revenue less labor cost at HR cost rates (marts.project_margin). Only finance, hr and admin see it.
SELECT
    project_code,
    reporting_currency,
    revenue,
    labor_cost,
    margin,
    margin_pct
FROM marts.project_margin
WHERE as_of_date = $as_of AND month = date_trunc('month', $as_of::DATE) - INTERVAL 1 MONTH
ORDER BY margin, project_code
