-- Each batch's gross in the reporting currency, at the rate in force on its as-of date (the figure the
-- dual-approval threshold is compared with, workbench/policy.py). No rate known: NULL, and the batch then needs two
-- approvals whatever its size (fail closed).
WITH fx AS (SELECT * FROM canonical.currency_rate_asof($as_of::DATE))
SELECT
    b.batch_id,
    CASE
        WHEN b.currency = $reporting THEN b.gross_amount
        ELSE convert_money(b.gross_amount, ff.rate, ft.rate)
    END AS gross_reporting
FROM billing.batches AS b
ASOF LEFT JOIN fx AS ff ON b.currency = ff.currency AND b.as_of_date >= ff.effective_date
ASOF LEFT JOIN fx AS ft ON ft.currency = $reporting AND b.as_of_date >= ft.effective_date
WHERE b.as_of_date = $as_of::DATE AND list_contains($batches::VARCHAR [], b.batch_id)
ORDER BY b.batch_id
