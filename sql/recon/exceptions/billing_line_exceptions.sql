-- The open exceptions of recon.billing_line_exceptions for as-of date $as_of, in the shape of ops.exceptions:
-- one per invoice line the PSA cannot match, for finance.
SELECT
    CAST(invoice_number AS VARCHAR) || '|' || CAST(line AS VARCHAR) AS record_key,
    recon_status AS rule,
    concat('billing_line_exceptions: ', invoice_number, ' ', line, ' is ', recon_status) AS message,
    owner,
    CAST(NULL AS VARCHAR) AS file,
    CAST(NULL AS BIGINT) AS row_number
FROM recon.billing_line_exceptions
WHERE as_of_date = $as_of AND owner IS NOT NULL
