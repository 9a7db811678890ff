-- The open exceptions of recon.time_to_bill for as-of date $as_of, in the shape of ops.exceptions: one per
-- entry that somebody must act on (an owner), the rule being the status and, where there is one, its reason.
SELECT
    CAST(time_entry_id AS VARCHAR) AS record_key,
    recon_status || coalesce(':' || reason, '') AS rule,
    concat('time entry ', time_entry_id, ' on ', project_code, ': ', recon_status, ' (' || reason || ')', ', ',
           format('{:,.2f}', coalesce(amount_at_risk, 0)), ' ', currency, ' at risk') AS message,
    owner,
    CAST(NULL AS VARCHAR) AS file,
    CAST(NULL AS BIGINT) AS row_number
FROM recon.time_to_bill
-- entries held by a faulty input are the exceptions of recon.billing_holds, one per input, not one per entry
WHERE as_of_date = $as_of AND owner IS NOT NULL AND reason IS DISTINCT FROM 'INPUT_HELD'
      AND recomputed_by_recon(time_entry_id, $scoped)
