-- recon.time_to_bill for as-of date $as_of: one row per time entry in scope (every live-approved entry,
-- plus every entry in any state that has a billed line), with its expected and billed values and the
-- first recon_status rule that matches (docs/recon.md). Parameters: $as_of (DATE), $reporting (currency), $scoped
-- (an incremental run: the rows of the entries of ops.recon_scope; assets/recon/incremental.py). What each
-- contract's not-to-exceed cap has consumed is read from recon.cap_usage of the date, written just before.
-- $legal_entities (VARCHAR[]): the legal entities reconciled; an entry's is its project's on the date.
WITH
te AS (  -- only the columns recon uses: entry rows are many, and every column is carried through each join
    SELECT time_entry_id, revision, resource_id, project_id, work_date, hours, quantity, billable, status, approved_at,
           live_approved
    FROM canonical.time_entry_asof($as_of::DATE, scoped := $scoped)
    WHERE project_id IN (SELECT p.project_id FROM canonical.project_asof($as_of::DATE) AS p
                         WHERE list_contains($legal_entities, p.legal_entity))
),
billed AS (  -- per entry: what its lines billed
    SELECT psa_time_entry_id AS time_entry_id,
           count(*) AS billed_line_count,
           count(*) FILTER (WHERE item = 'PS-TM-HOURS') AS tm_line_count,
           sum(quantity) AS billed_quantity,
           sum(amount) AS billed_amount,
           arg_min(rate, line_order) FILTER (WHERE item = 'PS-TM-HOURS') AS billed_rate,
           arg_min(amount, line_order) FILTER (WHERE item = 'PS-TM-HOURS') AS first_line_amount,
           array_to_string(list_sort(list_distinct(list(invoice_number))), ',') AS invoice_numbers
    FROM canonical.billed_time_line_asof($as_of::DATE, scoped := $scoped) GROUP BY 1
),
capped_batches AS (  -- hours a pssync batch billed for an entry revision when the cap let only part through
    SELECT source_id AS time_entry_id, source_revision AS revision, min(quantity) AS batch_quantity
    FROM billing.ledger WHERE item = 'PS-TM-HOURS' AND as_of_date <= $as_of::DATE AND in_recon_scope(source_id, $scoped)
    GROUP BY 1, 2
),
scope AS (
    SELECT te.*, b.* EXCLUDE (time_entry_id), coalesce(b.billed_line_count, 0) > 0 AS is_billed
    FROM te LEFT JOIN billed b USING (time_entry_id)
    WHERE (te.live_approved OR b.billed_line_count > 0) AND in_recon_scope(te.time_entry_id, $scoped)
),
proj AS (SELECT * FROM canonical.project_asof($as_of::DATE)),
emp AS (SELECT employee_id, hire_date, termination_date FROM canonical.employee_latest_asof($as_of::DATE)),
assignments AS (
    SELECT assignment_id, resource_id, project_id, role, start_date, coalesce(end_date, DATE '9999-12-31') + 1 AS end_excl
    FROM canonical.assignment_asof($as_of::DATE)
),
assignment_bounds AS (SELECT resource_id, project_id, start_date AS d FROM assignments
                      UNION SELECT resource_id, project_id, end_excl FROM assignments),
role_spans AS (  -- per (resource, project), date spans over which the covering assignments do not change, with
                 -- the role of the highest assignment id covering each span: at most one span per work date
    SELECT b.resource_id, b.project_id, b.span_start, b.span_end,
           arg_max(a.role, a.assignment_id) AS assignment_role
    FROM (SELECT resource_id, project_id, d AS span_start,
                 lead(d) OVER (PARTITION BY resource_id, project_id ORDER BY d) AS span_end
          FROM assignment_bounds) b
    JOIN assignments a ON a.resource_id = b.resource_id AND a.project_id = b.project_id
                      AND a.start_date <= b.span_start AND b.span_start < a.end_excl
    WHERE b.span_end IS NOT NULL
    GROUP BY ALL
),
versions AS (SELECT * FROM canonical.contract_version_asof($as_of::DATE)),
amendments AS (SELECT * FROM versions WHERE is_amendment AND status = 'Activated'),
amendment_spans AS (  -- each Activated amendment governs from its start until the next one of its root starts
    SELECT root_contract_id, contract_id AS amendment_id, rate_card_id AS am_card, discount_percent AS am_discount,
           start_date,
           lead(start_date, 1, DATE '9999-12-31') OVER (PARTITION BY root_contract_id ORDER BY start_date, contract_id) AS next_start
    FROM amendments
),
base AS (
    SELECT s.*, p.project_code, p.billing_type AS project_billing_type, p.status AS project_status, p.legal_entity,
           p.crm_account_id, p.crm_contract_id AS contract_id, p.currency AS project_currency,
           x.employee_id, r.role AS resource_role, r.region,
           coalesce(ro.assignment_role, r.role) AS role,
           cc.customer_id, root.currency AS contract_currency,
           e.hire_date, e.termination_date,
           bt.time_entry_id IS NOT NULL AS carried_before, bt.batch_id,
           CASE WHEN cb.batch_quantity < s.quantity THEN cb.batch_quantity END AS batch_capped_quantity,
           root.status = 'Activated' AND s.work_date BETWEEN root.start_date AND coalesce(root.end_date, DATE '9999-12-31')
               AS root_in_force,
           root.rate_card_id AS root_card, root.discount_percent AS root_discount
    FROM scope s
    JOIN proj p USING (project_id)
    LEFT JOIN canonical.resource_asof($as_of::DATE) r USING (resource_id)
    LEFT JOIN canonical.xwalk_resource_employee_asof($as_of::DATE) x ON x.resource_id = s.resource_id AND x.match_status = 'MATCHED'
    LEFT JOIN emp e ON e.employee_id = x.employee_id
    LEFT JOIN role_spans ro ON ro.resource_id = s.resource_id AND ro.project_id = s.project_id
                           AND s.work_date >= ro.span_start AND s.work_date < ro.span_end
    LEFT JOIN canonical.xwalk_client_customer_asof($as_of::DATE) cc ON cc.crm_account_id = p.crm_account_id AND cc.match_status = 'MATCHED'
    LEFT JOIN versions root ON root.contract_id = p.crm_contract_id AND NOT root.is_amendment
    LEFT JOIN time_batched_before($as_of::DATE, $scoped) bt USING (time_entry_id)
    LEFT JOIN capped_batches cb ON cb.time_entry_id = s.time_entry_id AND cb.revision = s.revision
),
versioned AS (  -- contract version for the work date: the latest Activated amendment started by then, else the root
    SELECT b.*, a.amendment_id,
           CASE WHEN a.amendment_id IS NOT NULL THEN a.am_card WHEN b.root_in_force THEN b.root_card END AS rate_card_id,
           CASE WHEN a.amendment_id IS NOT NULL THEN a.am_discount WHEN b.root_in_force THEN b.root_discount END AS discount_percent,
           a.amendment_id IS NOT NULL OR b.root_in_force AS has_contract_version,
           coalesce(b.contract_currency, b.project_currency) AS currency
    FROM base b
    LEFT JOIN amendment_spans a ON a.root_contract_id = b.contract_id AND b.work_date >= a.start_date
                               AND b.work_date < a.next_start
),
card_spans AS (  -- each rate card row applies from its effective date until the next row of the same key; of
                 -- rows effective the same day the lowest rate governs (the others get empty spans)
    SELECT *, lead(effective_from, 1, DATE '9999-12-31')
                   OVER (PARTITION BY rate_card_id, role, region, currency
                         ORDER BY effective_from ASC, hourly_rate DESC, effective_to DESC NULLS FIRST) AS next_from
    FROM canonical.rate_card_asof($as_of::DATE)
),
card AS (  -- the rate card row effective on the work date; past its effective_to there is no rate
    SELECT v.*, CASE WHEN c.effective_to IS NULL OR v.work_date <= c.effective_to THEN c.hourly_rate END AS standard_rate
    FROM versioned v
    LEFT JOIN card_spans c ON c.rate_card_id = v.rate_card_id AND c.role = v.role AND c.region = v.region
                          AND c.currency = v.currency AND v.work_date >= c.effective_from
                          AND v.work_date < c.next_from
),
rated AS (  -- expected rate: standard rate x (1 - discount / 100), kept to 4 decimals
    SELECT *, CAST(round(standard_rate * (100 - discount_percent) * CAST(0.01 AS DECIMAL(3, 2)), 4) AS DECIMAL(18, 4)) AS expected_rate
    FROM card
),
classified AS (
    SELECT *,
        CAST(round(quantity * expected_rate, 2) AS DECIMAL(18, 2)) AS expected_amount,
        CASE
            WHEN employee_id IS NULL THEN 'UNMAPPED_EMPLOYEE'
            WHEN work_date < hire_date OR work_date > termination_date THEN 'OUTSIDE_EMPLOYMENT'
            WHEN project_status = 'on_hold' THEN 'PROJECT_ON_HOLD'
            WHEN project_status = 'closed' THEN 'PROJECT_CLOSED'
            WHEN NOT has_contract_version THEN 'NO_ACTIVE_CONTRACT'
            WHEN customer_id IS NULL THEN 'UNMAPPED_CUSTOMER'
            WHEN expected_rate IS NULL THEN 'MISSING_RATE'
        END AS ineligible_reason,
        CASE
            WHEN is_billed AND NOT live_approved THEN 'NOT_APPROVED_BILLED'
            WHEN is_billed AND (NOT billable OR project_billing_type <> 'tm') THEN 'NOT_BILLABLE_BILLED'
            WHEN tm_line_count > 1 THEN 'DUPLICATE_BILLED'
            WHEN is_billed AND abs(billed_quantity - coalesce(batch_capped_quantity, quantity)) > 0.005 THEN 'HOURS_MISMATCH'
            WHEN is_billed AND (expected_rate IS NULL OR abs(billed_rate - expected_rate) > 0.005) THEN 'RATE_MISMATCH'
            WHEN is_billed THEN 'BILLED_OK'
            WHEN coalesce(carried_before, FALSE) THEN 'BATCHED'
            WHEN NOT billable OR project_billing_type = 'non_billable' THEN 'NON_BILLABLE'
            WHEN project_billing_type = 'fixed_fee' THEN 'FIXED_FEE'
        END AS pre_status
    FROM rated
),
staged AS (
    SELECT * REPLACE (coalesce(pre_status, CASE WHEN ineligible_reason IS NOT NULL THEN 'INELIGIBLE' ELSE 'UNBILLED' END) AS pre_status)
    FROM classified
),
cap_in_force AS (  -- NTE hours of the contract version in force on the as-of date
    SELECT r.contract_id AS root_id,
           coalesce(a.nte_hours, CASE WHEN a.contract_id IS NULL THEN r.nte_hours END) AS cap_hours,
           a.contract_id IS NOT NULL OR (r.status = 'Activated' AND $as_of::DATE BETWEEN r.start_date AND coalesce(r.end_date, DATE '9999-12-31')) AS in_force
    FROM versions r
    LEFT JOIN (SELECT root_contract_id, arg_max(contract_id, start_date) AS contract_id, arg_max(nte_hours, start_date) AS nte_hours
               FROM amendments WHERE start_date <= $as_of::DATE GROUP BY 1) a ON a.root_contract_id = r.contract_id
    WHERE NOT r.is_amendment
),
consumed AS (  -- billed and previously batched hours of every entry of the contract's projects
    SELECT contract_id AS root_id, sum(used_hours) AS used FROM recon.cap_usage
    WHERE as_of_date = $as_of::DATE AND list_contains($legal_entities, legal_entity) GROUP BY 1
),
capped AS (  -- the cap window: unbilled entries in work-date order, each after what the contract consumed before it
    SELECT s.*,
           CASE WHEN s.pre_status = 'UNBILLED' THEN c.cap_hours END AS cap_hours,
           CASE WHEN s.pre_status = 'UNBILLED' THEN
               coalesce(u.used, 0) + sum(s.quantity) OVER (PARTITION BY s.contract_id, s.pre_status = 'UNBILLED'
                                                            ORDER BY s.work_date, s.time_entry_id
                                                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - s.quantity
           END AS before_hours
    FROM staged s
    LEFT JOIN cap_in_force c ON c.root_id = s.contract_id AND c.in_force
    LEFT JOIN consumed u ON u.root_id = s.contract_id
),
final AS (
    SELECT *,
        CASE WHEN pre_status = 'UNBILLED' AND cap_hours IS NOT NULL AND before_hours >= cap_hours THEN 'OVER_CAP'
             ELSE pre_status END AS recon_status,
        CASE WHEN pre_status = 'UNBILLED' AND cap_hours IS NOT NULL AND before_hours < cap_hours
                  AND before_hours + quantity > cap_hours THEN cap_hours - before_hours END AS fit_quantity
    FROM capped
),
labelled AS (
    SELECT *,
        CASE recon_status
            WHEN 'INELIGIBLE' THEN ineligible_reason
            WHEN 'RATE_MISMATCH' THEN CASE WHEN expected_rate IS NULL THEN 'MISSING_RATE' END
            WHEN 'UNBILLED' THEN CASE WHEN fit_quantity IS NOT NULL THEN 'PARTIAL_CAP' END
            WHEN 'BILLED_OK' THEN CASE WHEN batch_capped_quantity IS NOT NULL THEN 'PARTIAL_CAP' END
        END AS reason
    FROM final
),
valued AS (
    SELECT *,
        CAST(CASE recon_status
            WHEN 'NOT_APPROVED_BILLED' THEN billed_amount
            WHEN 'NOT_BILLABLE_BILLED' THEN billed_amount
            WHEN 'DUPLICATE_BILLED' THEN billed_amount - first_line_amount
            WHEN 'HOURS_MISMATCH' THEN abs(round((quantity - billed_quantity) * billed_rate, 2))
            WHEN 'RATE_MISMATCH' THEN CASE WHEN expected_rate IS NULL THEN billed_amount
                                           ELSE abs(round(billed_quantity * (billed_rate - expected_rate), 2)) END
            WHEN 'INELIGIBLE' THEN expected_amount
            WHEN 'OVER_CAP' THEN expected_amount
            WHEN 'UNBILLED' THEN CASE WHEN fit_quantity IS NOT NULL
                                      THEN expected_amount - round(fit_quantity * expected_rate, 2) ELSE 0 END
            WHEN 'BILLED_OK' THEN CASE WHEN batch_capped_quantity IS NOT NULL
                                       THEN expected_amount - round(batch_capped_quantity * expected_rate, 2) ELSE 0 END
            ELSE 0
        END AS DECIMAL(18, 2)) AS amount_at_risk
    FROM labelled
),
holds AS (SELECT * FROM recon.billing_holds WHERE as_of_date = $as_of::DATE),
first_holds AS (  -- per scope and key, the first hold (by its text) with its owner; numeric keys compared as
                  -- numbers. The holds are few, the entries millions: each scope is one lookup per entry
    SELECT scope, TRY_CAST(scope_key AS BIGINT) AS num_key, CAST(NULL AS VARCHAR) AS text_key,
           min({'hold': hold, 'owner': owner}) AS first
    FROM holds WHERE scope IN ('customer', 'project', 'time_entry', 'resource') AND TRY_CAST(scope_key AS BIGINT) IS NOT NULL
    GROUP BY 1, 2
    UNION ALL
    SELECT scope, NULL, scope_key, min({'hold': hold, 'owner': owner})
    FROM holds WHERE scope IN ('crm_account', 'contract', 'rate_card', 'employee') GROUP BY 1, 3
    UNION ALL
    SELECT scope, NULL, NULL, min({'hold': hold, 'owner': owner}) FROM holds WHERE scope = 'all' GROUP BY 1
),
entry_holds AS (  -- fail closed: the first hold (recon.billing_holds) whose scope covers the entry
    SELECT v.*, least(h_all.first, h_cu.first, h_ca.first, h_co.first, h_rc.first, h_pr.first, h_te.first,
                      h_re.first, h_em.first) AS first_hold
    FROM valued v
    LEFT JOIN first_holds h_all ON h_all.scope = 'all'
    LEFT JOIN first_holds h_cu ON h_cu.scope = 'customer' AND h_cu.num_key = v.customer_id
    LEFT JOIN first_holds h_ca ON h_ca.scope = 'crm_account' AND h_ca.text_key = v.crm_account_id
    LEFT JOIN first_holds h_co ON h_co.scope = 'contract' AND h_co.text_key = v.contract_id
    LEFT JOIN first_holds h_rc ON h_rc.scope = 'rate_card' AND h_rc.text_key = v.rate_card_id
    LEFT JOIN first_holds h_pr ON h_pr.scope = 'project' AND h_pr.num_key = v.project_id
    LEFT JOIN first_holds h_te ON h_te.scope = 'time_entry' AND h_te.num_key = v.time_entry_id
    LEFT JOIN first_holds h_re ON h_re.scope = 'resource' AND h_re.num_key = v.resource_id
    LEFT JOIN first_holds h_em ON h_em.scope = 'employee' AND h_em.text_key = v.employee_id
),
held AS (  -- what a held entry would have been billed for is not decided: INELIGIBLE / INPUT_HELD, at risk
    SELECT v.* EXCLUDE (first_hold) REPLACE (
               CASE WHEN v.first_hold IS NOT NULL AND v.recon_status = 'UNBILLED' THEN 'INELIGIBLE' ELSE v.recon_status END AS recon_status,
               CASE WHEN v.first_hold IS NOT NULL AND v.recon_status = 'UNBILLED' THEN 'INPUT_HELD' ELSE v.reason END AS reason,
               CASE WHEN v.first_hold IS NOT NULL AND v.recon_status = 'UNBILLED' THEN v.expected_amount ELSE v.amount_at_risk END
                   AS amount_at_risk),
           v.first_hold.hold AS billing_hold, v.first_hold.owner AS hold_owner
    FROM entry_holds v
)
SELECT
    v.time_entry_id, v.revision, v.employee_id, v.resource_id, v.project_code, v.contract_id, v.customer_id,
    v.legal_entity, v.work_date, v.approved_at, v.hours, v.quantity, v.billable, v.status AS entry_status,
    v.role, v.region, v.expected_rate, v.expected_amount, v.currency,
    v.billed_quantity, v.billed_amount, v.billed_rate, coalesce(v.billed_line_count, 0) AS billed_line_count,
    v.invoice_numbers, v.batch_id, v.recon_status, v.reason,
    CASE v.recon_status
        WHEN 'INELIGIBLE' THEN CASE WHEN v.reason IN ('UNMAPPED_EMPLOYEE', 'OUTSIDE_EMPLOYMENT') THEN 'hr'
                                    WHEN v.reason IN ('PROJECT_ON_HOLD', 'PROJECT_CLOSED') THEN 'delivery'
                                    WHEN v.reason = 'INPUT_HELD' THEN v.hold_owner
                                    ELSE 'finance' END
        WHEN 'OVER_CAP' THEN 'delivery'
        WHEN 'NOT_APPROVED_BILLED' THEN 'finance' WHEN 'NOT_BILLABLE_BILLED' THEN 'finance'
        WHEN 'DUPLICATE_BILLED' THEN 'finance' WHEN 'HOURS_MISMATCH' THEN 'finance' WHEN 'RATE_MISMATCH' THEN 'finance'
    END AS owner,
    v.amount_at_risk,
    in_currency(v.amount_at_risk, v.currency, $reporting, v.work_date, $as_of::DATE) AS amount_at_risk_reporting,
    wip_age_days(v.recon_status, v.approved_at, $as_of::DATE) AS age_days,
    $as_of::DATE AS as_of_date,
    v.standard_rate, v.fit_quantity AS capped_quantity, v.hire_date, v.termination_date, v.amendment_id,
    v.rate_card_id, v.discount_percent, v.cap_hours, v.billing_hold, v.live_approved
FROM held v
