-- The billed lines of time entries as of the end of as_of: lines of live invoices that bill hours
-- (PS-TM-HOURS) or adjust them (PS-ADJUSTMENT) and name a PSA time entry (docs/recon.md). line_order orders an
-- entry's lines: the first line by invoice date is the one a duplicate repeats. With `scoped`, only the lines of
-- the entries of ops.recon_scope (an incremental recon run).
SELECT l.*, i.invoice_number, i.invoice_date,
       {'invoice_date': i.invoice_date, 'line': l.line, 'invoice_id': l.invoice_id} AS line_order
FROM canonical.invoice_line_asof(as_of) AS l
JOIN canonical.live_invoice_asof(as_of) AS i USING (invoice_id)
WHERE l.item IN ('PS-TM-HOURS', 'PS-ADJUSTMENT') AND l.psa_time_entry_id IS NOT NULL
      AND in_recon_scope(l.psa_time_entry_id, scoped)
