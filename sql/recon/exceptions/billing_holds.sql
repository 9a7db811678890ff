-- The open exceptions of recon.billing_holds for as-of date $as_of, in the shape of ops.exceptions: one per
-- faulty input and scope it holds, for the owner of that input, naming the file, record and rule.
SELECT
    scope || ':' || coalesce(scope_key, '*') || ' <- ' || input || ':' || record_key AS record_key,
    'BILLING_HELD:' || rule AS rule,
    hold AS message,
    owner,
    file,
    row_number
FROM recon.billing_holds
WHERE as_of_date = $as_of
