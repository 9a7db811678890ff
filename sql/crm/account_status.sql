-- What finance knows of each CRM Account as of $as_of, for the account team (Salesforce Bulk API 2.0 upsert on
-- Id), in the reporting currency $reporting at the ERP rate in force on the as-of date:
-- billed to date = net of the non-Voided invoices dated on or before it; open receivables = their gross less
-- payments received by then (never below zero); overdue = the open receivables past their due date; unbilled
-- WIP = marts.unbilled_wip of the account's projects; open exceptions = time entries of its projects that recon
-- gives an owner to act on.
WITH
accounts AS (
    SELECT crm_account_id FROM canonical.client_asof($as_of::DATE) WHERE NOT coalesce(is_deleted, FALSE)
),

customers AS (
    SELECT crm_account_id, customer_id
    FROM canonical.xwalk_client_customer_asof($as_of::DATE)
    WHERE match_status = 'MATCHED'
),

projects AS (SELECT project_code, crm_account_id FROM canonical.project_asof($as_of::DATE)),

invoices AS (
    SELECT invoice_id, customer_id, currency, due_date
    FROM canonical.live_invoice_asof($as_of::DATE)
    WHERE invoice_date <= $as_of::DATE
),

invoice_totals AS (
    SELECT
        invoice_id,
        sum(amount) AS net,
        sum(amount + coalesce(tax_amount, 0)) AS gross
    FROM canonical.invoice_line_asof($as_of::DATE)
    GROUP BY invoice_id
),

paid AS (
    SELECT invoice_id, sum(amount) AS paid
    FROM canonical.payment_asof($as_of::DATE)
    WHERE payment_date <= $as_of::DATE
    GROUP BY invoice_id
),

receivables AS (
    SELECT
        c.crm_account_id,
        i.due_date,
        in_currency(t.net, i.currency, $reporting, $as_of::DATE, $as_of::DATE) AS net,
        in_currency(
            greatest(t.gross - coalesce(p.paid, 0), 0), i.currency, $reporting, $as_of::DATE, $as_of::DATE
        ) AS open_amount
    FROM invoices AS i
    INNER JOIN customers AS c ON i.customer_id = c.customer_id
    INNER JOIN invoice_totals AS t ON i.invoice_id = t.invoice_id
    LEFT JOIN paid AS p ON i.invoice_id = p.invoice_id
),

billed AS (
    SELECT
        crm_account_id,
        sum(net) AS billed_to_date,
        sum(open_amount) AS open_receivables,
        coalesce(sum(open_amount) FILTER (WHERE due_date < $as_of::DATE), 0) AS overdue
    FROM receivables
    GROUP BY crm_account_id
),

wip AS (
    SELECT p.crm_account_id, sum(w.unbilled_value_reporting) AS unbilled_wip
    FROM marts.unbilled_wip AS w
    INNER JOIN projects AS p ON w.project_code = p.project_code
    WHERE w.as_of_date = $as_of::DATE
    GROUP BY p.crm_account_id
),

flagged AS (
    SELECT p.crm_account_id, count(*) AS open_exceptions
    FROM recon.time_to_bill AS t
    INNER JOIN projects AS p ON t.project_code = p.project_code
    WHERE t.as_of_date = $as_of::DATE AND t.owner IS NOT NULL
    GROUP BY p.crm_account_id
)

SELECT
    a.crm_account_id AS id,
    CAST(coalesce(b.billed_to_date, 0) AS DECIMAL(18, 2)) AS billed_to_date,
    CAST(coalesce(b.open_receivables, 0) AS DECIMAL(18, 2)) AS open_receivables,
    CAST(coalesce(b.overdue, 0) AS DECIMAL(18, 2)) AS overdue_receivables,
    CAST(coalesce(w.unbilled_wip, 0) AS DECIMAL(18, 2)) AS unbilled_wip,
    CAST(coalesce(x.open_exceptions, 0) AS INTEGER) AS open_exceptions,
    $reporting AS currency
FROM accounts AS a
LEFT JOIN billed AS b ON a.crm_account_id = b.crm_account_id
LEFT JOIN wip AS w ON a.crm_account_id = w.crm_account_id
LEFT JOIN flagged AS x ON a.crm_account_id = x.crm_account_id
ORDER BY id
