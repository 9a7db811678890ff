-- ERP subsidiaries as of the end of as_of: the latest full snapshot by then; a subsidiary rejected from it
-- keeps its previous state (macro snapshot_asof).
SELECT * FROM snapshot_asof('canonical.subsidiary_history', 'erp_subsidiaries', as_of)
