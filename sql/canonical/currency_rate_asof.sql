-- ERP currency rates as of the end of as_of: the latest full snapshot by then; a rate rejected from it keeps
-- its previous state (macro snapshot_asof).
SELECT * FROM snapshot_asof('canonical.currency_rate_history', 'erp_currency_rates', as_of)
