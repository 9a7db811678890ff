-- recon.billing_holds for as-of date $as_of: every rejected or quarantined input in force on that date that can
-- change whether an item is billed, at which rate or for which customer, with the scope it can affect. Billing
-- emits nothing in a held scope (fail closed); recon marks the entries there INELIGIBLE / INPUT_HELD.
-- A hold ends when its input is fixed: a corrected file under the same name, a later snapshot, the record
-- arriving valid in a later extraction, or a PSA key that no longer exists.
-- scope: all | customer | crm_account | contract | rate_card | project | time_entry | resource | employee |
--        milestone | expense  (scope_key is the key in that scope, as text). Parameters: $as_of (DATE).
WITH
inputs(object, canonical_table, owner) AS (VALUES
    ('crm_account', 'canonical.client_history', 'finance'),
    ('crm_contract', 'canonical.contract_history', 'finance'),
    ('erp_customers', 'canonical.customer_history', 'finance'),
    ('erp_rate_cards', 'canonical.rate_card_history', 'finance'),
    ('erp_tax_codes', 'canonical.tax_code_history', 'finance'),
    ('erp_currency_rates', 'canonical.currency_rate_history', 'finance'),
    ('erp_invoices', 'canonical.invoice_history', 'finance'),
    ('erp_invoice_lines', 'canonical.invoice_line_history', 'finance'),
    ('psa_projects', 'canonical.project_history', 'delivery'),
    ('psa_assignments', 'canonical.assignment_history', 'delivery'),
    ('psa_resources', 'canonical.resource_history', 'delivery'),
    ('psa_time_entries', 'canonical.time_entry_history', 'delivery'),
    ('psa_milestones', 'canonical.milestone_history', 'delivery'),
    ('psa_expenses', 'canonical.expense_history', 'delivery'),
    ('hr_workers', 'canonical.employee_history', 'hr'),
    ('feed', 'feed', 'integration')
),
snapshot_objects(object) AS (VALUES ('erp_customers'), ('erp_rate_cards'), ('erp_tax_codes'), ('erp_currency_rates'),
                                    ('hr_workers')),
deliveries AS (  -- each landed file name, by its delivery in force
    SELECT object, file, file_date, arg_max(status, loaded_at) AS status, arg_max(extract_id, loaded_at) AS extract_id
    FROM ops.loaded_files GROUP BY object, file, file_date
),
latest_snapshot AS (  -- per snapshot object: the date of the latest usable snapshot by the as-of date
    SELECT object, max(file_date) AS d FROM deliveries
    WHERE object IN (SELECT object FROM snapshot_objects) AND status = 'loaded' AND file_date <= $as_of::DATE
    GROUP BY object
),
rejected_files AS (  -- a whole file that could not be read: its scope cannot be bounded
    SELECT d.object, d.file, CAST(NULL AS BIGINT) AS row_number, d.file AS record_key, e.rule,
           coalesce(e.message, d.file || ': rejected') AS message, CAST(NULL AS VARCHAR) AS record
    FROM deliveries d
    LEFT JOIN ops.exceptions e ON e.layer = 'extract' AND e.source || '_' || e.object = d.object AND e.record_key = d.file
                              AND e.file = d.file
    LEFT JOIN latest_snapshot s ON s.object = d.object
    WHERE d.status = 'rejected' AND d.object IN (SELECT object FROM inputs)
      AND coalesce(d.file_date, $as_of::DATE) <= $as_of::DATE
      AND (s.d IS NULL OR coalesce(d.file_date, $as_of::DATE) >= s.d)
),
rejected_rows AS (  -- rows the extract's format rules rejected, from deliveries in force, not fixed since
    SELECT r.object, r.file, r.row_number, r.record_key, r.rule, concat(r.file, ' row ', r.row_number, ': ', r.message),
           r.record
    FROM quarantine.extract_rejects r
    LEFT JOIN latest_snapshot s ON s.object = r.object
    WHERE r.object IN (SELECT object FROM inputs) AND delivered(r.extract_id, r.file)
      AND NOT EXISTS (SELECT 1 FROM quarantine.extract_fixes x WHERE x.reject_extract_id = r.extract_id
                      AND x.record_key = r.record_key)
      AND coalesce(r.file_date, TRY_CAST(json_extract_string(r.record, '$.updated_at') AS DATE), $as_of::DATE) <= $as_of::DATE
      AND (r.object NOT IN (SELECT object FROM snapshot_objects) OR r.file_date = s.d)
),
contract_rejects AS (  -- canonical rows that broke their pandera contract and that no later extraction corrected
                      -- (their ops.exceptions row is open)
    SELECT i.object, q.table_name AS file, CAST(NULL AS BIGINT) AS row_number, q.record_key, q.rule,
           q.table_name || ': ' || q.message AS message, q.record
    FROM quarantine.canonical_rejects q
    JOIN inputs i ON i.canonical_table = q.table_name
    LEFT JOIN latest_snapshot s ON s.object = i.object
    WHERE EXISTS (SELECT 1 FROM ops.exceptions e WHERE e.layer = 'canonical' AND e.resolved_at IS NULL
                  AND e.object = replace(replace(q.table_name, 'canonical.', ''), '_history', '')
                  AND e.record_key = q.record_key AND e.rule = q.rule)
      AND coalesce(TRY_CAST(json_extract_string(q.record, '$.snapshot_date') AS DATE),
                   TRY_CAST(json_extract_string(q.record, '$.file_date') AS DATE),
                   TRY_CAST(json_extract_string(q.record, '$.extract_date') AS DATE),
                   TRY_CAST(json_extract_string(q.record, '$.valid_from') AS DATE), $as_of::DATE) <= $as_of::DATE
      AND (i.object NOT IN (SELECT object FROM snapshot_objects) OR i.object = 'hr_workers'
           OR TRY_CAST(json_extract_string(q.record, '$.snapshot_date') AS DATE) = s.d)
),
matched AS (  -- crosswalk matches as of the date and the day before
    SELECT 'CRM account -> ERP customer' AS xwalk,
           (SELECT count(*) FROM canonical.xwalk_client_customer_asof($as_of::DATE) WHERE match_status = 'MATCHED') AS now,
           (SELECT count(*) FROM canonical.xwalk_client_customer_asof($as_of::DATE - 1) WHERE match_status = 'MATCHED') AS before
    UNION ALL
    SELECT 'PSA resource -> HR employee',
           (SELECT count(*) FROM canonical.xwalk_resource_employee_asof($as_of::DATE) WHERE match_status = 'MATCHED'),
           (SELECT count(*) FROM canonical.xwalk_resource_employee_asof($as_of::DATE - 1) WHERE match_status = 'MATCHED')
),
broken_feed AS (  -- a feed that broke as a whole, though every row of it is valid: nothing can be billed from it.
                  -- A master-data gap of a few records is not this: it gives exceptions for those records.
    SELECT 'feed', CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), 'feed', 'broken_feed', problem, CAST(NULL AS VARCHAR)
    FROM (
        SELECT 'no rate cards loaded as of this date' AS problem
        WHERE NOT EXISTS (SELECT 1 FROM canonical.rate_card_asof($as_of::DATE))
        UNION ALL
        SELECT 'no currency rates loaded as of this date'
        WHERE NOT EXISTS (SELECT 1 FROM canonical.currency_rate_asof($as_of::DATE))
        UNION ALL  -- a crosswalk that lost more than half its matches since the day before
        SELECT format('{} crosswalk collapsed: {} matched, {} the day before', xwalk, now, before)
        FROM matched WHERE now * 2 < before AND before - now >= 3
    ) AS problems
),
reconstructed AS (  -- PSA rows standing in with a version stamped after the date (canonical *_asof): their state
                    -- on the date was never extracted, so what they said then is not known
    SELECT 'psa_projects' AS object, 'canonical.project_history' AS file, CAST(NULL AS BIGINT) AS row_number,
           CAST(project_id AS VARCHAR) AS record_key, 'reconstructed' AS rule,
           format('PSA project {} ({}): its first known version is stamped {}, after this date', project_code,
                  project_id, updated_at) AS message,
           CAST(json_object('project_id', project_id) AS VARCHAR) AS record
    FROM canonical.project_asof($as_of::DATE) WHERE reconstructed
    UNION ALL
    SELECT 'psa_assignments', 'canonical.assignment_history', NULL, CAST(assignment_id AS VARCHAR), 'reconstructed',
           format('PSA assignment {}: its first known version is stamped {}, after this date', assignment_id, updated_at),
           CAST(json_object('project_id', project_id) AS VARCHAR)
    FROM canonical.assignment_asof($as_of::DATE) WHERE reconstructed
    UNION ALL
    SELECT 'psa_time_entries', 'canonical.time_entry_history', NULL, CAST(time_entry_id AS VARCHAR), 'reconstructed',
           format('PSA time entry {} (revision {}): its first known version is stamped {}, after this date',
                  time_entry_id, revision, updated_at),
           CAST(json_object('project_id', project_id) AS VARCHAR)
    FROM canonical.time_entry_asof($as_of::DATE, restamped := TRUE) WHERE reconstructed
),
unplaced AS (  -- entries on a project the PSA does not have on the date, or whose row was rejected
               -- (canonical.project_asof has valid rows only): an entry reconciles in its project's legal entity,
               -- so no entity's run has them and they would leave recon.time_to_bill unseen
    SELECT time_entry_id, project_id, hours, live_approved
    FROM canonical.time_entry_asof($as_of::DATE, unplaced := TRUE)
    WHERE project_id NOT IN (SELECT p.project_id FROM canonical.project_asof($as_of::DATE) AS p)
),
unknown_projects AS (  -- those approved, or billed on a live invoice (billed hours unseen are as bad as approved
                       -- hours never billed). One fault per project id, naming its entries.
    SELECT 'psa_projects' AS object, 'canonical.time_entry_history' AS file, CAST(NULL AS BIGINT) AS row_number,
           CAST(project_id AS VARCHAR) AS record_key, 'unknown_project' AS rule,
           format('{} approved or billed PSA time entr{} ({} h; {}{}) on project id {}, which is not a valid PSA '
                  'project on this date (missing from the PSA, or rejected: see its own exception): no legal entity '
                  'reconciles or bills them', count(*),
                  CASE WHEN count(*) = 1 THEN 'y' ELSE 'ies' END, sum(hours),
                  CASE WHEN count(*) = 1 THEN 'entry ' ELSE 'entries ' END
                  || array_to_string(list_sort(list(time_entry_id))[:10], ', '),
                  CASE WHEN count(*) > 10 THEN ', ...' ELSE '' END, project_id) AS message,
           CAST(json_object('project_id', project_id) AS VARCHAR) AS record
    FROM unplaced
    WHERE live_approved OR time_entry_id IN (
        SELECT l.psa_time_entry_id FROM canonical.invoice_line_asof($as_of::DATE) AS l
        JOIN canonical.live_invoice_asof($as_of::DATE) USING (invoice_id)
        WHERE l.psa_time_entry_id IN (SELECT time_entry_id FROM unplaced))
    GROUP BY project_id
),
split_caps AS (  -- a contract with a not-to-exceed cap whose projects stand in several legal entities on the date:
                 -- each entity reconciles its own projects, so none can count the cap whole (fail closed)
    SELECT 'crm_contract' AS object, 'canonical.project_history' AS file, CAST(NULL AS BIGINT) AS row_number,
           p.crm_contract_id AS record_key, 'cap_across_legal_entities' AS rule,
           format('CRM contract {} has a not-to-exceed cap and projects in legal entities {}: the cap cannot be '
                  'shared between entities', p.crm_contract_id,
                  string_agg(DISTINCT p.legal_entity, ', ' ORDER BY p.legal_entity)) AS message,
           CAST(json_object('contract_id', p.crm_contract_id) AS VARCHAR) AS record
    FROM canonical.project_asof($as_of::DATE) AS p
    WHERE p.crm_contract_id IN (SELECT v.root_contract_id FROM canonical.contract_version_asof($as_of::DATE) AS v
                                WHERE v.nte_hours IS NOT NULL)
    GROUP BY p.crm_contract_id HAVING count(DISTINCT p.legal_entity) > 1
),
faults AS (
    SELECT * FROM rejected_files UNION ALL SELECT * FROM rejected_rows UNION ALL SELECT * FROM contract_rejects
    UNION ALL SELECT * FROM broken_feed UNION ALL SELECT * FROM reconstructed UNION ALL SELECT * FROM unknown_projects
    UNION ALL SELECT * FROM split_caps
),
fields AS (  -- the keys a faulty record names, read from its text (extract) or typed (canonical) columns
    SELECT f.*, i.owner,
           nullif(f.record_key, '') AS k,
           split_part(f.record_key, '|', 1) AS k1,
           coalesce(json_extract_string(f.record, '$.amends__c'), json_extract_string(f.record, '$.amends_contract_id')) AS amends,
           TRY_CAST(coalesce(json_extract_string(f.record, '$.customer'), json_extract_string(f.record, '$.customer_id')) AS BIGINT) AS customer,
           TRY_CAST(json_extract_string(f.record, '$.project_id') AS BIGINT) AS project_id,
           TRY_CAST(coalesce(json_extract_string(f.record, '$.psa_time_entry_id'), '') AS BIGINT) AS line_entry
    FROM faults f JOIN inputs i USING (object)
),
invoice_customer AS (SELECT invoice_id, arg_max(customer_id, last_modified) AS customer_id
                     FROM canonical.invoice_history GROUP BY 1),
scoped AS (
    SELECT f.*, s.scope, s.scope_key FROM fields f,
    LATERAL (SELECT * FROM (VALUES
        -- an unreadable file, or a record whose own key is unreadable: nothing bounds what it changes
        (f.record IS NULL OR f.k IS NULL, 'all', NULL),
        (f.object = 'crm_account', 'crm_account', f.k),
        (f.object = 'crm_contract', 'contract', coalesce(f.amends, f.k)),
        (f.object = 'erp_customers', 'customer', f.k),
        (f.object = 'erp_rate_cards', 'rate_card', f.k1),
        (f.object = 'erp_tax_codes', 'tax_code', f.k1),
        (f.object = 'erp_currency_rates', 'all', NULL),
        (f.object IN ('erp_invoices', 'erp_invoice_lines'), 'invoice', f.k1),
        (f.object = 'erp_invoice_lines' AND f.line_entry IS NOT NULL, 'time_entry', CAST(f.line_entry AS VARCHAR)),
        (f.object IN ('psa_projects'), 'project', f.k),
        (f.object IN ('psa_assignments', 'psa_time_entries', 'psa_milestones', 'psa_expenses'),
         CASE WHEN f.project_id IS NOT NULL THEN 'project' ELSE 'all' END, CAST(f.project_id AS VARCHAR)),
        (f.object = 'psa_time_entries' AND TRY_CAST(f.k AS BIGINT) IS NOT NULL, 'time_entry', f.k),
        (f.object = 'psa_milestones' AND TRY_CAST(f.k AS BIGINT) IS NOT NULL, 'milestone', f.k),
        (f.object = 'psa_expenses' AND TRY_CAST(f.k AS BIGINT) IS NOT NULL, 'expense', f.k),
        (f.object = 'psa_resources', 'resource', f.k),
        (f.object = 'hr_workers', 'employee', f.k1)
    ) v(applies, scope, scope_key) WHERE applies) s
),
resolved AS (  -- an invoice holds its customer (the whole date when its customer is unknown); a tax code holds
               -- the customers that use it
    SELECT s.* EXCLUDE (scope, scope_key),
           CASE WHEN s.scope = 'invoice' THEN CASE WHEN coalesce(s.customer, ic.customer_id) IS NULL THEN 'all' ELSE 'customer' END
                WHEN s.scope = 'tax_code' THEN 'customer' ELSE s.scope END AS scope,
           CASE WHEN s.scope = 'invoice' THEN CAST(coalesce(s.customer, ic.customer_id) AS VARCHAR)
                WHEN s.scope = 'tax_code' THEN CAST(c.customer_id AS VARCHAR) ELSE s.scope_key END AS scope_key
    FROM scoped s
    LEFT JOIN invoice_customer ic ON s.scope = 'invoice' AND ic.invoice_id = TRY_CAST(s.scope_key AS BIGINT)
    LEFT JOIN canonical.customer_asof($as_of::DATE) c ON s.scope = 'tax_code' AND c.tax_code = s.scope_key
    WHERE s.scope <> 'tax_code' OR c.customer_id IS NOT NULL
)
SELECT DISTINCT
    $as_of::DATE AS as_of_date, scope, CASE WHEN scope = 'all' THEN NULL ELSE scope_key END AS scope_key,
    object AS input, file, row_number, record_key, rule, message, owner,
    concat('billing held for ', CASE WHEN scope = 'all' THEN 'every customer' ELSE replace(scope, '_', ' ') || ' ' || scope_key END,
           ': ', message) AS hold
FROM resolved
ORDER BY scope, scope_key, input, file, row_number NULLS FIRST, record_key, rule
