-- Live invoices as of the end of as_of: every invoice that is not Voided. A line of a live invoice is a
-- billed line (docs/recon.md); a Voided invoice bills nothing.
SELECT * FROM canonical.invoice_asof(as_of) WHERE status <> 'Voided'
