-- The workbench dashboard's billable utilization per practice over the last four complete weeks before $as_of
-- (marts.utilization_weekly): billable hours over available hours.
SELECT
    practice,
    CAST(sum(billable_hours) AS DECIMAL(18, 2)) AS billable_hours,
    CAST(sum(available_hours) AS DECIMAL(18, 2)) AS available_hours,
    CAST(sum(billable_hours) AS DOUBLE) / nullif(CAST(sum(available_hours) AS DOUBLE), 0) AS utilization
FROM marts.utilization_weekly
WHERE as_of_date = $as_of AND week_complete AND week_start >= $as_of::DATE - INTERVAL 35 DAY
GROUP BY practice
ORDER BY practice
