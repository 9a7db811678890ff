-- The periods the report covers ($as_of): months of work in realization, complete weeks in utilization.
SELECT (SELECT min(month) FROM marts.realization_monthly WHERE as_of_date = $as_of) AS first_month,
       (SELECT max(month) FROM marts.realization_monthly
        WHERE as_of_date = $as_of AND month < date_trunc('month', $as_of::DATE)) AS last_month,
       (SELECT min(week_start) FROM marts.utilization_weekly WHERE as_of_date = $as_of AND week_complete) AS first_week,
       (SELECT max(week_start) FROM marts.utilization_weekly WHERE as_of_date = $as_of AND week_complete) AS last_week
