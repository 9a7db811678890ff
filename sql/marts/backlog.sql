-- marts.backlog as of $as_of: per root contract with a not-to-exceed cap in force, the NTE hours and their
-- value at the contract's expected rates (hours x the hour-weighted expected rate of its entries), what is
-- billed to date, and what remains.
WITH ttb AS (SELECT * FROM recon.time_to_bill WHERE as_of_date = $as_of::DATE AND contract_id IS NOT NULL),
caps AS (
    SELECT contract_id, max(cap_hours) AS nte_hours FROM ttb WHERE cap_hours IS NOT NULL GROUP BY 1
),
roots AS (
    SELECT r.contract_id, r.currency, r.nte_hours AS root_nte
    FROM canonical.contract_version_asof($as_of::DATE) r WHERE NOT r.is_amendment AND r.status = 'Activated'
),
rates AS (
    SELECT contract_id,
           sum(quantity * expected_rate) FILTER (WHERE expected_rate IS NOT NULL)
               / nullif(sum(quantity) FILTER (WHERE expected_rate IS NOT NULL), 0) AS avg_rate,
           sum(coalesce(billed_quantity, 0)) AS billed_hours,
           sum(coalesce(billed_amount, 0)) AS billed_amount
    FROM ttb GROUP BY 1
)
SELECT r.contract_id, r.currency,
       coalesce(c.nte_hours, r.root_nte) AS nte_hours,
       CAST(round(coalesce(c.nte_hours, r.root_nte) * x.avg_rate, 2) AS DECIMAL(18, 2)) AS nte_value,
       CAST(coalesce(x.billed_hours, 0) AS DECIMAL(18, 2)) AS billed_hours,
       CAST(coalesce(x.billed_amount, 0) AS DECIMAL(18, 2)) AS billed_to_date,
       CAST(coalesce(c.nte_hours, r.root_nte) - coalesce(x.billed_hours, 0) AS DECIMAL(18, 2)) AS remaining_hours,
       CAST(round((coalesce(c.nte_hours, r.root_nte) - coalesce(x.billed_hours, 0)) * x.avg_rate, 2) AS DECIMAL(18, 2))
           AS remaining_value,
       $as_of::DATE AS as_of_date
FROM roots r LEFT JOIN caps c USING (contract_id) LEFT JOIN rates x USING (contract_id)
WHERE coalesce(c.nte_hours, r.root_nte) IS NOT NULL
ORDER BY 1
