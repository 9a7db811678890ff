-- Unbilled WIP by age bucket ($as_of), in the reporting currency, from marts.unbilled_wip; every bucket is
-- listed, empty ones as 0. Leakage (older than 30 days, or not billable as things stand) is the mart's total.
SELECT bucket, CAST(coalesce(value, 0) AS DECIMAL(18, 2)) AS value
FROM (
    SELECT sum(value_0_30_reporting) AS "0-30", sum(value_31_60_reporting) AS "31-60",
           sum(value_61_90_reporting) AS "61-90", sum(value_90_plus_reporting) AS "90+"
    FROM marts.unbilled_wip WHERE as_of_date = $as_of
) AS totals UNPIVOT INCLUDE NULLS (value FOR bucket IN ("0-30", "31-60", "61-90", "90+"))
