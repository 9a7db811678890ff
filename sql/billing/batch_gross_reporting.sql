-- Each batch's gross in the reporting currency, at the rate in force on its as-of date (the figure the
-- dual-approval threshold is compared with, workbench/policy.py). No rate known: NULL, and the batch then needs two
-- approvals whatever its size (fail closed).
SELECT
    b.batch_id,
    in_currency(b.gross_amount, b.currency, $reporting, b.as_of_date, $as_of::DATE) AS gross_reporting
FROM billing.batches AS b
WHERE b.as_of_date = $as_of::DATE AND list_contains($batches::VARCHAR [], b.batch_id)
ORDER BY b.batch_id
