-- Contract versions as they stood at the end of as_of: each root contract and each amendment, with the
-- root it belongs to. Only Activated versions take effect (the recon rules select among these).
SELECT c.* EXCLUDE (rn), coalesce(c.amends_contract_id, c.contract_id) AS root_contract_id,
       c.amends_contract_id IS NOT NULL AS is_amendment
FROM (
    SELECT *, row_number() OVER (PARTITION BY contract_id ORDER BY system_modstamp DESC, extract_date DESC, _extract_id DESC) AS rn
    FROM canonical.contract_history WHERE _source_ts < as_of_end(as_of)
) c WHERE rn = 1 AND NOT is_deleted
