-- ERP rate cards as of the end of as_of: the latest full snapshot by then; a rate card row rejected from it
-- keeps its previous state (macro snapshot_asof).
SELECT * FROM snapshot_asof('canonical.rate_card_history', 'erp_rate_cards', as_of)
