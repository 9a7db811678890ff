-- Realization by practice and legal entity, reporting currency ($as_of), over the months of work before the
-- month of the as-of date: that month is still being invoiced, so its realization would read low.
SELECT p.practice, p.legal_entity,
       CAST(sum(r.standard_value_reporting) AS DECIMAL(18, 2)), CAST(sum(r.billed_value_reporting) AS DECIMAL(18, 2)),
       CAST(sum(r.billed_value_reporting) AS DOUBLE) / nullif(CAST(sum(r.standard_value_reporting) AS DOUBLE), 0)
FROM marts.realization_monthly r JOIN canonical.project p USING (project_code)
WHERE r.as_of_date = $as_of AND p.billing_type = 'tm' AND r.month < date_trunc('month', $as_of::DATE)
GROUP BY 1, 2 ORDER BY 1, 2
