-- Contract versions as they stood at the end of as_of: each root contract and each amendment, with the
-- root it belongs to. Only Activated versions take effect (the recon rules select among these).
SELECT c.*, coalesce(c.amends_contract_id, c.contract_id) AS root_contract_id,
       c.amends_contract_id IS NOT NULL AS is_amendment
FROM latest_version('canonical.contract_history', contract_id, _source_ts < as_of_end(as_of),
                    system_modstamp, stamp2 := extract_date, stamp3 := _extract_id) AS c
WHERE NOT c.is_deleted
