-- Leakage as of $as_of in the reporting currency (marts.unbilled_wip): unbilled work older than 30 days, plus
-- work that cannot be billed as things stand.
SELECT CAST(coalesce(sum(leakage_total_reporting), 0) AS DECIMAL(18, 2)) FROM marts.unbilled_wip WHERE as_of_date = $as_of
