-- Scalar macros for exact money arithmetic: one definition of each rounding rule.
-- Half-up rounding means ties away from zero, as Python's ROUND_HALF_UP and DuckDB's ROUND on DECIMAL.
-- the SQL linter takes the macros' parameters for data types:
-- noqa: disable=CP05
CREATE OR REPLACE MACRO div_half_up(num, den) AS
    sign(num) * ((abs(num) * 2 + den) // (2 * den));
-- hours rounded half-up to 2 decimals (the quantity of a billing line), exactly
CREATE OR REPLACE MACRO quantity_of_minutes(minutes) AS
    CAST(CAST(div_half_up(CAST(minutes AS HUGEINT) * 100, 60) AS DECIMAL(38, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2));
-- amount x rate(A) / rate(B), half-up to the cent, without passing through floating point
CREATE OR REPLACE MACRO convert_money(amount, rate_from, rate_to) AS
    CAST(CAST(div_half_up(CAST(round(amount * 100) AS HUGEINT) * CAST(round(rate_from * 1000000) AS HUGEINT),
                          CAST(round(rate_to * 1000000) AS HUGEINT)) AS DECIMAL(38, 0))
         * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2));
-- approved work of the PSA (a time entry, an expense): approved and not deleted; the as-of macros give it as
-- live_approved, and every query reads that column
CREATE OR REPLACE MACRO is_live_approved(status, deleted_at) AS status = 'approved' AND deleted_at IS NULL;
-- the latest version of each record of a history table (named as text) among the versions `known` on the date:
-- the greatest version stamp (up to three stamps, compared in order; ties: the later stamps), one row per
-- record_key (several key columns: a struct of them). What counts as a version known by the end of a date, and
-- which stamps order the versions, is each source's (sql/canonical/<name>_asof.sql). An unused stamp is the constant
-- FALSE: a NULL default has no type, and the shared warehouse's catalog cannot store the macro then
CREATE OR REPLACE MACRO latest_version(history, record_key, known, stamp1, stamp2 := FALSE, stamp3 := FALSE) AS TABLE
SELECT * FROM query_table(history) WHERE known
QUALIFY row_number() OVER (PARTITION BY record_key
                           ORDER BY stamp1 DESC NULLS LAST, stamp2 DESC NULLS LAST, stamp3 DESC NULLS LAST) = 1;
-- end of an as-of date: a run for date D sees source records stamped before D + 1 day (UTC)
CREATE OR REPLACE MACRO as_of_end(d) AS CAST(d AS TIMESTAMP) + INTERVAL 1 DAY;
-- which version of a PSA row stands in on an as-of date, as a sort key (smallest first): the latest version
-- updated by then; failing that, the first known one, which then stands in "reconstructed" (docs/recon.md)
CREATE OR REPLACE MACRO psa_version_rank(updated_at, as_of) AS
    CASE WHEN updated_at < as_of_end(as_of) THEN -epoch_us(updated_at)
         ELSE 100000000000000000 + epoch_us(updated_at) END;
-- whether the raw rows of an extraction from a file are still in force: false once a changed file under the
-- same name superseded that delivery (ops.superseded_deliveries)
CREATE OR REPLACE MACRO delivered(x_extract_id, x_file) AS
    NOT EXISTS (SELECT 1 FROM ops.superseded_deliveries s WHERE s.extract_id = x_extract_id AND s.file = x_file);
-- a full master-data snapshot as of a date: the latest snapshot by then, where a record rejected from that
-- snapshot (by the extract's format rules or the canonical contract) keeps its previous state in force
CREATE OR REPLACE MACRO snapshot_asof(history, raw_object, as_of) AS TABLE
WITH h AS (SELECT * FROM query_table(history)),
latest AS (SELECT max(snapshot_date) AS d FROM h WHERE snapshot_date <= as_of),
rejected AS (
    SELECT r.record_key, r.file_date AS d FROM quarantine.extract_rejects r
    WHERE r.object = raw_object AND delivered(r.extract_id, r.file)
    UNION
    SELECT q.record_key, TRY_CAST(json_extract_string(q.record, '$.snapshot_date') AS DATE)
    FROM quarantine.canonical_rejects q WHERE q.table_name = history
),
current_rows AS (SELECT h.* FROM h JOIN latest ON h.snapshot_date = latest.d),
kept AS (
    SELECT h.* FROM h JOIN latest ON h.snapshot_date < latest.d
    JOIN rejected r ON r.record_key = h._record_key AND r.d = latest.d
    WHERE h._record_key NOT IN (SELECT _record_key FROM current_rows)
    QUALIFY row_number() OVER (PARTITION BY h._record_key ORDER BY h.snapshot_date DESC) = 1
)
SELECT * FROM current_rows UNION ALL SELECT * FROM kept;
-- whether a billing hold (recon.billing_holds: scope, scope_key) covers a milestone or expense of a project
CREATE OR REPLACE MACRO holds_item(scope, scope_key, customer_id, crm_account_id, contract_id, project_id,
                                   item_scope, item_id) AS
    scope = 'all'
    OR (scope = 'customer' AND scope_key = CAST(customer_id AS VARCHAR))
    OR (scope = 'crm_account' AND scope_key = crm_account_id)
    OR (scope = 'contract' AND scope_key = contract_id)
    OR (scope = 'project' AND scope_key = CAST(project_id AS VARCHAR))
    OR (scope = item_scope AND scope_key = CAST(item_id AS VARCHAR));
-- hours of a sum of minutes as a decimal (6 places, half-up): exact for every whole or tenth of an hour and
-- within a microhour otherwise, without the float noise of minutes / 60.0
CREATE OR REPLACE MACRO hours_of_minutes(minutes) AS
    CAST(CAST(div_half_up(CAST(minutes AS HUGEINT) * 1000000, 60) AS DECIMAL(38, 0)) * CAST(0.000001 AS DECIMAL(7, 6))
         AS DECIMAL(18, 6));
-- work in progress (unbilled WIP): live-approved billable T&M work not yet on an ERP invoice, whatever stops it,
-- valued at the expected rate, or the standard rate where no expected rate exists
CREATE OR REPLACE MACRO is_wip(recon_status) AS recon_status IN ('UNBILLED', 'BATCHED', 'INELIGIBLE', 'OVER_CAP');
-- the age of work in progress on an as-of date: days since approval (null for other statuses)
CREATE OR REPLACE MACRO wip_age_days(recon_status, approved_at, as_of) AS
    CASE WHEN is_wip(recon_status) THEN datediff('day', CAST(approved_at AS DATE), as_of) END;
CREATE OR REPLACE MACRO wip_value(expected_amount, quantity, standard_rate) AS
    CAST(coalesce(expected_amount, round(quantity * standard_rate, 2), 0) AS DECIMAL(18, 2));
-- an entry a recon run reads: every entry, or when the run is incremental (scoped) those of ops.recon_scope ...
CREATE OR REPLACE MACRO in_recon_scope(time_entry_id, scoped) AS
    NOT scoped OR time_entry_id IN (SELECT s.time_entry_id FROM ops.recon_scope AS s);
-- ... and an entry whose row it recomputes (recon.contractor_hours reads its workers' other entries)
CREATE OR REPLACE MACRO recomputed_by_recon(time_entry_id, scoped) AS
    NOT scoped OR time_entry_id IN (SELECT s.time_entry_id FROM ops.recon_scope AS s WHERE s.recompute);
-- per time entry, what pssync batches of dates before as_of carried of it (billing.ledger): its latest batch and the
-- hours. Not the date's own batch: recon runs before it is emitted, so a replay would read what the first run could not
CREATE OR REPLACE MACRO time_batched_before(as_of, scoped) AS TABLE
    SELECT source_id AS time_entry_id, arg_max(batch_id, as_of_date) AS batch_id, sum(quantity) AS batched_quantity
    FROM billing.ledger WHERE item = 'PS-TM-HOURS' AND as_of_date < as_of AND in_recon_scope(source_id, scoped)
    GROUP BY 1;
-- a worker payroll pays by the hour from PSA time (recon.contractor_hours)
CREATE OR REPLACE MACRO is_contingent(worker_type) AS worker_type = 'Contingent Worker';
