-- Billable utilization by practice and legal entity ($as_of), over the complete weeks (the week of the as-of
-- date is still being worked and approved).
SELECT practice, legal_entity, CAST(sum(available_hours) AS DECIMAL(18, 2)), CAST(round(sum(billable_hours), 2) AS DECIMAL(18, 2)),
       CAST(sum(billable_hours) AS DOUBLE) / nullif(CAST(sum(available_hours) AS DOUBLE), 0)
FROM marts.utilization_weekly WHERE as_of_date = $as_of AND week_complete GROUP BY 1, 2 ORDER BY 1, 2
