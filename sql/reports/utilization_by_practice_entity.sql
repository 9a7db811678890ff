-- Billable utilization by practice and legal entity over all weeks ($as_of).
SELECT practice, legal_entity, CAST(sum(available_hours) AS DECIMAL(18, 2)), round(sum(billable_hours), 2),
       sum(billable_hours) / nullif(CAST(sum(available_hours) AS DOUBLE), 0)
FROM marts.utilization_weekly WHERE as_of_date = $as_of GROUP BY 1, 2 ORDER BY 1, 2
