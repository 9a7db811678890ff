-- Open exceptions by owner: how many, and the amount at risk in the reporting currency. The list is
-- sql/reports/open_exceptions.sql, the one definition of "open exceptions".
SELECT owner, count(*) AS exceptions, CAST(coalesce(sum(amount_at_risk_reporting), 0) AS DECIMAL(18, 2)) AS at_risk
FROM open_exceptions
GROUP BY 1 ORDER BY 1
