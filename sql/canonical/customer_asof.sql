-- ERP customers as of the end of as_of: the latest full snapshot by then; a customer rejected from it keeps
-- its previous state (macro snapshot_asof), so a bad row never silently drops a customer.
SELECT * FROM snapshot_asof('canonical.customer_history', 'erp_customers', as_of)
