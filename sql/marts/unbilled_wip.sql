-- marts.unbilled_wip as of $as_of: per project, the value of live-approved billable T&M work not yet on an
-- ERP invoice (UNBILLED, BATCHED, INELIGIBLE, OVER_CAP) by age since approval, at the expected rate (the
-- standard rate where no expected rate exists). Leakage: the part older than 30 days, which missed a
-- billing cycle, plus work that cannot be billed as things stand (INELIGIBLE, OVER_CAP) of any age.
WITH wip AS (
    SELECT project_code, currency, recon_status, age_days,
           CAST(coalesce(expected_amount, round(quantity * standard_rate, 2), 0) AS DECIMAL(18, 2)) AS value,
           amount_at_risk_reporting, amount_at_risk
    FROM recon.time_to_bill
    WHERE as_of_date = $as_of::DATE AND recon_status IN ('UNBILLED', 'BATCHED', 'INELIGIBLE', 'OVER_CAP')
)
SELECT project_code, currency,
       count(*) AS entries,
       CAST(sum(value) FILTER (WHERE age_days <= 30) AS DECIMAL(18, 2)) AS value_0_30,
       CAST(sum(value) FILTER (WHERE age_days BETWEEN 31 AND 60) AS DECIMAL(18, 2)) AS value_31_60,
       CAST(sum(value) FILTER (WHERE age_days BETWEEN 61 AND 90) AS DECIMAL(18, 2)) AS value_61_90,
       CAST(sum(value) FILTER (WHERE age_days > 90) AS DECIMAL(18, 2)) AS value_90_plus,
       CAST(sum(value) AS DECIMAL(18, 2)) AS unbilled_value,
       CAST(coalesce(sum(value) FILTER (WHERE age_days > 30 OR recon_status IN ('INELIGIBLE', 'OVER_CAP')), 0) AS DECIMAL(18, 2))
           AS leakage_total,
       $as_of::DATE AS as_of_date
FROM wip GROUP BY 1, 2 ORDER BY 1
