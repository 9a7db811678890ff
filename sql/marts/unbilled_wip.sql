-- marts.unbilled_wip as of $as_of: per project, the value of live-approved billable T&M work not yet on an
-- ERP invoice (UNBILLED, BATCHED, INELIGIBLE, OVER_CAP) by age since approval, at the expected rate (the
-- standard rate where no expected rate exists). Leakage: the part older than 30 days, which missed a
-- billing cycle, plus work that cannot be billed as things stand (INELIGIBLE, OVER_CAP) of any age. Empty
-- buckets are 0. The *_reporting columns convert each entry at the ERP rate of its work date.
-- Parameters: $as_of (DATE), $reporting (currency), $legal_entities (VARCHAR[]: the entities whose projects are
-- wanted; a project's entity on the as-of date).
WITH wip AS (
    SELECT t.project_code, t.legal_entity, t.currency, t.recon_status, t.age_days, t.work_date,
           wip_value(t.expected_amount, t.quantity, t.standard_rate) AS value
    FROM recon.time_to_bill t
    WHERE t.as_of_date = $as_of::DATE AND is_wip(t.recon_status) AND list_contains($legal_entities, t.legal_entity)
),
converted AS (
    SELECT w.*, in_currency(w.value, w.currency, $reporting, w.work_date, $as_of::DATE) AS value_reporting,
           w.age_days > 30 OR w.recon_status IN ('INELIGIBLE', 'OVER_CAP') AS leaked,
           CASE WHEN w.age_days <= 30 THEN '0-30' WHEN w.age_days <= 60 THEN '31-60'
                WHEN w.age_days <= 90 THEN '61-90' WHEN w.age_days > 90 THEN '90+' END AS bucket  -- defined once
    FROM wip w
)
SELECT project_code, currency,
       count(*) AS entries,
       CAST(coalesce(sum(value) FILTER (WHERE bucket = '0-30'), 0) AS DECIMAL(18, 2)) AS value_0_30,
       CAST(coalesce(sum(value) FILTER (WHERE bucket = '31-60'), 0) AS DECIMAL(18, 2)) AS value_31_60,
       CAST(coalesce(sum(value) FILTER (WHERE bucket = '61-90'), 0) AS DECIMAL(18, 2)) AS value_61_90,
       CAST(coalesce(sum(value) FILTER (WHERE bucket = '90+'), 0) AS DECIMAL(18, 2)) AS value_90_plus,
       CAST(sum(value) AS DECIMAL(18, 2)) AS unbilled_value,
       CAST(coalesce(sum(value) FILTER (WHERE leaked), 0) AS DECIMAL(18, 2)) AS leakage_total,
       $reporting AS reporting_currency,
       CAST(coalesce(sum(value_reporting) FILTER (WHERE bucket = '0-30'), 0) AS DECIMAL(18, 2)) AS value_0_30_reporting,
       CAST(coalesce(sum(value_reporting) FILTER (WHERE bucket = '31-60'), 0) AS DECIMAL(18, 2)) AS value_31_60_reporting,
       CAST(coalesce(sum(value_reporting) FILTER (WHERE bucket = '61-90'), 0) AS DECIMAL(18, 2)) AS value_61_90_reporting,
       CAST(coalesce(sum(value_reporting) FILTER (WHERE bucket = '90+'), 0) AS DECIMAL(18, 2)) AS value_90_plus_reporting,
       CAST(sum(value_reporting) AS DECIMAL(18, 2)) AS unbilled_value_reporting,
       CAST(coalesce(sum(value_reporting) FILTER (WHERE leaked), 0) AS DECIMAL(18, 2)) AS leakage_total_reporting,
       legal_entity,
       $as_of::DATE AS as_of_date
FROM converted GROUP BY project_code, currency, legal_entity ORDER BY 1
