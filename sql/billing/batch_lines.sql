-- Billing batch lines of legal entities $legal_entities for as-of date $as_of: every billable item of their projects
-- that no batch of another date carries, one batch per (legal entity, ERP customer, currency), lines numbered by
-- (service date, item, source id). Parameters: $as_of (DATE), $legal_entities (VARCHAR[]).
WITH
recon AS (SELECT * FROM recon.time_to_bill WHERE as_of_date = $as_of::DATE),
proj AS (SELECT * FROM canonical.project_asof($as_of::DATE)),
customers AS (SELECT * FROM canonical.customer_asof($as_of::DATE)),
xcust AS (SELECT * FROM canonical.xwalk_client_customer_asof($as_of::DATE) WHERE match_status = 'MATCHED'),
roots AS (SELECT * FROM canonical.contract_version_asof($as_of::DATE) WHERE NOT is_amendment),
holds AS (SELECT * FROM recon.billing_holds WHERE as_of_date = $as_of::DATE),
live_lines AS (
    SELECT l.* FROM canonical.invoice_line_asof($as_of::DATE) l
    JOIN canonical.live_invoice_asof($as_of::DATE) i USING (invoice_id)
),
time_lines AS (  -- approved, eligible, within cap: at the expected rate (the capped hours where the cap says)
    SELECT 'PS-TM-HOURS' AS item, time_entry_id AS source_id, revision AS source_revision, project_code, customer_id,
           legal_entity, currency, work_date AS service_date,
           coalesce(capped_quantity, quantity) AS quantity, expected_rate AS rate
    FROM recon
    WHERE recon_status = 'UNBILLED' AND billing_hold IS NULL AND CAST(approved_at AS DATE) <= $as_of::DATE
      AND customer_id IS NOT NULL AND contract_id IS NOT NULL AND expected_rate IS NOT NULL
),
adjustment_lines AS (  -- the PSA is the system of record for hours: bill the difference at the billed rate
    SELECT 'PS-ADJUSTMENT', time_entry_id, revision, project_code, customer_id, legal_entity, currency, work_date,
           quantity - billed_quantity, billed_rate
    FROM recon
    WHERE recon_status = 'HOURS_MISMATCH' AND billing_hold IS NULL AND customer_id IS NOT NULL AND contract_id IS NOT NULL AND billed_rate IS NOT NULL
),
milestone_lines AS (
    SELECT 'PS-FF-MILESTONE', m.milestone_id, 1, p.project_code, x.customer_id, p.legal_entity, m.currency,
           CAST(m.accepted_at AS DATE), CAST(1 AS DECIMAL(18, 2)), CAST(m.amount AS DECIMAL(18, 4))
    FROM canonical.milestone_asof($as_of::DATE) m
    JOIN proj p USING (project_id)
    JOIN xcust x ON x.crm_account_id = p.crm_account_id
    JOIN roots r ON r.contract_id = p.crm_contract_id
    WHERE m.status = 'accepted' AND CAST(m.accepted_at AS DATE) <= $as_of::DATE
      AND m.milestone_id NOT IN (SELECT psa_milestone_id FROM live_lines WHERE psa_milestone_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM holds h WHERE holds_item(h.scope, h.scope_key, x.customer_id, p.crm_account_id,
                                                             p.crm_contract_id, p.project_id, 'milestone', m.milestone_id))
),
expenses AS (
    SELECT e.*, p.project_code, p.legal_entity, x.customer_id, r.currency AS contract_currency
    FROM canonical.expense_asof($as_of::DATE) e
    JOIN proj p USING (project_id)
    JOIN xcust x ON x.crm_account_id = p.crm_account_id
    JOIN roots r ON r.contract_id = p.crm_contract_id
    WHERE e.live_approved AND e.billable AND CAST(e.approved_at AS DATE) <= $as_of::DATE
      AND p.billing_type <> 'non_billable'
      AND e.expense_id NOT IN (SELECT psa_expense_id FROM live_lines WHERE psa_expense_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM holds h WHERE holds_item(h.scope, h.scope_key, x.customer_id, p.crm_account_id,
                                                             p.crm_contract_id, p.project_id, 'expense', e.expense_id))
),
expense_lines AS (  -- converted to the contract currency at the rate of the expense date
    SELECT 'PS-EXPENSE', e.expense_id, 1, e.project_code, e.customer_id, e.legal_entity, e.contract_currency,
           e.expense_date, CAST(1 AS DECIMAL(18, 2)),
           CAST(in_currency(e.amount, e.currency, e.contract_currency, e.expense_date, $as_of::DATE) AS DECIMAL(18, 4))
    FROM expenses e
),
candidates AS (
    SELECT * FROM time_lines
    UNION ALL SELECT * FROM adjustment_lines
    UNION ALL SELECT * FROM milestone_lines
    UNION ALL SELECT * FROM expense_lines
),
keyed AS (
    SELECT c.*, c.item || ':' || c.source_id || ':' || c.source_revision AS idempotency_key,
           CAST(round(c.quantity * c.rate, 2) AS DECIMAL(18, 2)) AS amount,
           cu.tax_code
    FROM candidates c
    LEFT JOIN customers cu ON cu.customer_id = c.customer_id
    WHERE c.rate IS NOT NULL AND c.customer_id IS NOT NULL
),
free AS (  -- exactly once: a key carried by a batch of another date is never emitted again
    SELECT k.* FROM keyed k
    WHERE NOT EXISTS (SELECT 1 FROM billing.ledger l WHERE l.idempotency_key = k.idempotency_key AND l.as_of_date <> $as_of::DATE)
),
taxed AS (
    SELECT f.*, t.tax_rate, CAST(round(f.amount * t.tax_rate, 2) AS DECIMAL(18, 2)) AS tax_amount
    FROM free f
    ASOF LEFT JOIN canonical.tax_code_asof($as_of::DATE) t ON t.tax_code = f.tax_code AND f.service_date >= t.effective_from
)
SELECT 'BB-' || legal_entity || '-' || customer_id || '-' || currency || '-' || strftime($as_of::DATE, '%Y%m%d') AS batch_id,
       CAST(row_number() OVER (PARTITION BY legal_entity, customer_id, currency
                               ORDER BY service_date, item, source_id) AS INTEGER) AS line_no,
       idempotency_key, item, CAST(source_id AS BIGINT) AS source_id, CAST(source_revision AS INTEGER) AS source_revision,
       project_code, CAST(customer_id AS BIGINT) AS customer_id, legal_entity, currency, service_date,
       CAST(quantity AS DECIMAL(18, 2)) AS quantity, CAST(rate AS DECIMAL(18, 4)) AS rate, amount,
       tax_code, CAST(tax_rate AS DECIMAL(9, 6)) AS tax_rate, tax_amount,
       $as_of::DATE AS as_of_date
FROM taxed
WHERE list_contains($legal_entities, legal_entity)
ORDER BY batch_id, line_no
