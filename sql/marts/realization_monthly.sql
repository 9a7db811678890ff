-- marts.realization_monthly as of $as_of: per (project, month of work). Standard value = billable hours at the
-- standard (undiscounted) rate, per entry rounded to the cent; billed value = net amount of the billed lines
-- of those entries, plus milestones with a service date in the month. Reporting-currency twins use the ERP rate
-- effective on the last day of the month. A row's legal entity is its project's on the as-of date (the rule of
-- recon.time_to_bill); a milestone on a project code the PSA does not know takes its invoice's subsidiary's.
-- Parameters: $as_of, $reporting, $legal_entities (VARCHAR[]: the entities whose rows are wanted).
WITH
ttb AS (SELECT * FROM recon.time_to_bill WHERE as_of_date = $as_of::DATE AND list_contains($legal_entities, legal_entity)),
entries AS (
    SELECT project_code, legal_entity, customer_id, CAST(date_trunc('month', work_date) AS DATE) AS month, currency,
           -- whole minutes summed, then decimal hours: exact, and the same whatever order the rows come in
           hours_of_minutes(CAST(round(sum(CASE WHEN billable THEN hours ELSE 0 END) * 60) AS BIGINT)) AS billable_hours,
           sum(CASE WHEN billable AND standard_rate IS NOT NULL THEN round(quantity * standard_rate, 2) ELSE 0 END) AS standard_value,
           sum(coalesce(billed_amount, 0)) AS billed_time_value
    FROM ttb
    WHERE live_approved OR billed_line_count > 0
    GROUP BY 1, 2, 3, 4, 5
),
milestones AS (
    SELECT l.project_code, coalesce(p.legal_entity, s.legal_entity) AS legal_entity,
           CAST(date_trunc('month', l.service_date) AS DATE) AS month, i.currency, sum(l.amount) AS milestone_value
    FROM canonical.invoice_line_asof($as_of::DATE) l
    JOIN canonical.live_invoice_asof($as_of::DATE) i USING (invoice_id)
    LEFT JOIN canonical.project_asof($as_of::DATE) p ON p.project_code = l.project_code
    LEFT JOIN canonical.subsidiary_asof($as_of::DATE) s ON s.subsidiary_id = i.subsidiary_id
    WHERE l.item = 'PS-FF-MILESTONE' AND list_contains($legal_entities, coalesce(p.legal_entity, s.legal_entity))
    GROUP BY 1, 2, 3, 4
),
combined AS (
    SELECT coalesce(e.project_code, m.project_code) AS project_code,
           coalesce(e.legal_entity, m.legal_entity) AS legal_entity, e.customer_id,
           coalesce(e.month, m.month) AS month, coalesce(e.currency, m.currency) AS currency,
           coalesce(e.billable_hours, 0) AS billable_hours,
           CAST(coalesce(e.standard_value, 0) AS DECIMAL(18, 2)) AS standard_value,
           CAST(coalesce(e.billed_time_value, 0) + coalesce(m.milestone_value, 0) AS DECIMAL(18, 2)) AS billed_value
    FROM entries e FULL OUTER JOIN milestones m ON m.project_code = e.project_code AND m.month = e.month
),
customers AS (
    SELECT p.project_code, x.customer_id FROM canonical.project_asof($as_of::DATE) p
    JOIN canonical.xwalk_client_customer_asof($as_of::DATE) x ON x.crm_account_id = p.crm_account_id AND x.match_status = 'MATCHED'
)
SELECT c.project_code, coalesce(c.customer_id, cu.customer_id) AS customer_id, c.month, c.currency, c.billable_hours,
       c.standard_value, c.billed_value,
       CAST(c.billed_value AS DOUBLE) / nullif(CAST(c.standard_value AS DOUBLE), 0) AS realization,
       CAST(c.standard_value - c.billed_value AS DECIMAL(18, 2)) AS write_down,
       in_currency(c.standard_value, c.currency, $reporting, c.month_end, $as_of::DATE) AS standard_value_reporting,
       in_currency(c.billed_value, c.currency, $reporting, c.month_end, $as_of::DATE) AS billed_value_reporting,
       c.legal_entity,
       $as_of::DATE AS as_of_date
FROM (SELECT *, CAST(last_day(month) AS DATE) AS month_end FROM combined) c
LEFT JOIN customers cu ON cu.project_code = c.project_code
ORDER BY c.project_code, c.month
