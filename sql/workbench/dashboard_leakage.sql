-- The workbench dashboard's leakage as of $as_of (reporting currency): the projects with the most unbilled work
-- older than 30 days or not billable as things stand (marts.unbilled_wip), largest first.
SELECT
    project_code,
    reporting_currency,
    CAST(unbilled_value_reporting AS DECIMAL(18, 2)) AS unbilled,
    CAST(leakage_total_reporting AS DECIMAL(18, 2)) AS leakage
FROM marts.unbilled_wip
WHERE as_of_date = $as_of AND leakage_total_reporting > 0
ORDER BY leakage DESC, project_code ASC
