-- ERP tax codes as of the end of as_of: the latest full snapshot by then; a tax code rejected from it keeps
-- its previous state (macro snapshot_asof).
SELECT * FROM snapshot_asof('canonical.tax_code_history', 'erp_tax_codes', as_of)
