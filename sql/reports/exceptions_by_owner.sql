-- Flagged time entries by owner, with the amount at risk in the reporting currency ($as_of).
SELECT owner, count(*), CAST(sum(coalesce(amount_at_risk_reporting, 0)) AS DECIMAL(18, 2))
FROM recon.time_to_bill WHERE as_of_date = $as_of AND owner IS NOT NULL GROUP BY 1 ORDER BY 1
