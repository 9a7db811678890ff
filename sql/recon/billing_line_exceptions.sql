-- recon.billing_line_exceptions for as-of date $as_of: lines of non-Voided invoices the PSA cannot match,
-- a PSA Time Entry ID the PSA does not have (ORPHAN_BILLING_LINE) or a Project Code it does not have
-- (UNKNOWN_PROJECT; checked first when both apply). $scoped: only the lines carrying an entry of ops.recon_scope
-- (a rerun after new versions of those entries; assets/recon/incremental.py).
WITH live_lines AS (
    SELECT l.*, i.invoice_number, i.currency
    FROM canonical.invoice_line_asof($as_of::DATE) l
    JOIN canonical.live_invoice_asof($as_of::DATE) i USING (invoice_id)
    WHERE recomputed_by_recon(l.psa_time_entry_id, $scoped)
),
projects AS (SELECT project_code FROM canonical.project_asof($as_of::DATE)),
entries AS (  -- every entry the PSA had by then, in any state, those standing in with a later version included
    SELECT time_entry_id FROM canonical.time_entry_asof($as_of::DATE, scoped := $scoped)
)
SELECT l.invoice_number, l.line, l.item, l.project_code, l.psa_time_entry_id, l.amount, l.currency,
       CASE WHEN l.project_code IS NULL OR l.project_code NOT IN (SELECT project_code FROM projects) THEN 'UNKNOWN_PROJECT'
            ELSE 'ORPHAN_BILLING_LINE' END AS recon_status,
       'finance' AS owner,
       $as_of::DATE AS as_of_date
FROM live_lines l
WHERE l.project_code IS NULL OR l.project_code NOT IN (SELECT project_code FROM projects)
   OR (l.psa_time_entry_id IS NOT NULL AND l.psa_time_entry_id NOT IN (SELECT time_entry_id FROM entries))
ORDER BY l.invoice_number, l.line
