-- marts.invoice_cycle as of $as_of: per non-Voided invoice, how long work and approvals took to reach it
-- and how long the customer took to pay it in full.
WITH inv AS (SELECT * FROM canonical.live_invoice_asof($as_of::DATE)),
work AS (
    SELECT l.invoice_id, min(t.work_date) AS earliest_work_date, min(t.approved_at) AS earliest_approval
    FROM canonical.invoice_line_asof($as_of::DATE) l
    JOIN canonical.time_entry_history t ON t.time_entry_id = l.psa_time_entry_id
    WHERE l.item = 'PS-TM-HOURS' AND t.approved_at IS NOT NULL AND t.updated_at < as_of_end($as_of::DATE)
    GROUP BY 1
),
paid AS (
    SELECT invoice_id, max(payment_date) AS last_payment, sum(amount) AS paid_amount
    FROM canonical.payment_asof($as_of::DATE) GROUP BY 1
)
SELECT i.invoice_number, i.customer_id, i.invoice_date, i.currency, i.status,
       w.earliest_work_date, w.earliest_approval,
       datediff('day', CAST(w.earliest_approval AS DATE), i.invoice_date) AS days_approval_to_invoice,
       datediff('day', w.earliest_work_date, i.invoice_date) AS days_work_to_invoice,
       CASE WHEN i.status = 'Paid In Full' THEN datediff('day', i.invoice_date, p.last_payment) END AS days_to_paid,
       $as_of::DATE AS as_of_date
FROM inv i LEFT JOIN work w USING (invoice_id) LEFT JOIN paid p USING (invoice_id)
ORDER BY i.invoice_number
