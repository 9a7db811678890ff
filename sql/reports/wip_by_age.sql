-- Unbilled WIP and leakage by age bucket, converted to the reporting currency at the rate of the work date.
WITH fx AS (SELECT * FROM canonical.currency_rate_asof($as_of)),
w AS (
    SELECT CASE WHEN t.age_days <= 30 THEN '0-30' WHEN t.age_days <= 60 THEN '31-60'
                WHEN t.age_days <= 90 THEN '61-90' ELSE '90+' END AS bucket,
           CASE WHEN t.currency = $reporting THEN coalesce(t.expected_amount, 0)
                ELSE convert_money(coalesce(t.expected_amount, 0), f.rate, r.rate) END AS value,
           t.recon_status, t.age_days
    FROM recon.time_to_bill t
    ASOF LEFT JOIN fx f ON f.currency = t.currency AND t.work_date >= f.effective_date
    ASOF LEFT JOIN fx r ON r.currency = $reporting AND t.work_date >= r.effective_date
    WHERE t.as_of_date = $as_of AND t.recon_status IN ('UNBILLED', 'BATCHED', 'INELIGIBLE', 'OVER_CAP')
)
SELECT bucket, CAST(sum(value) AS DECIMAL(18, 2)),
       CAST(coalesce(sum(value) FILTER (WHERE age_days > 30 OR recon_status IN ('INELIGIBLE', 'OVER_CAP')), 0) AS DECIMAL(18, 2))
FROM w GROUP BY 1 ORDER BY 1
