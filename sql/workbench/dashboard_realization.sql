-- The workbench dashboard's realization per month of work (reporting currency), the six months before the as-of
-- month: billed value over standard value (marts.realization_monthly).
SELECT
    month,
    CAST(sum(standard_value_reporting) AS DECIMAL(18, 2)) AS standard_value,
    CAST(sum(billed_value_reporting) AS DECIMAL(18, 2)) AS billed_value,
    CAST(sum(billed_value_reporting) AS DOUBLE) / nullif(CAST(sum(standard_value_reporting) AS DOUBLE), 0) AS realization
FROM marts.realization_monthly
WHERE
    as_of_date = $as_of
    AND month < date_trunc('month', $as_of::DATE)
    AND month >= date_trunc('month', $as_of::DATE) - INTERVAL 6 MONTH
GROUP BY month
ORDER BY month
