-- recon.cap_usage for as-of date $as_of: per time entry on a project of a contract with a not-to-exceed cap (in any
-- version), the hours it has consumed of the cap (docs/recon.md): what its billed lines billed, or, with none, what
-- pssync batches of earlier dates carried. recon.time_to_bill sums them per contract. Kept as versions, so a rerun
-- of the date recomputes only the entries whose inputs changed ($scoped: those of ops.recon_scope) and keeps the
-- other entries' hours as they were. $legal_entities: the legal entities reconciled (an entry's is its project's;
-- a contract whose capped projects stand in several entities is held by recon.billing_holds).
WITH
capped_contracts AS (
    SELECT DISTINCT root_contract_id AS contract_id
    FROM canonical.contract_version_asof($as_of::DATE) WHERE nte_hours IS NOT NULL
),
billed AS (
    SELECT psa_time_entry_id AS time_entry_id, sum(quantity) AS billed_quantity
    FROM canonical.billed_time_line_asof($as_of::DATE, scoped := $scoped) GROUP BY 1
),
used AS (
    SELECT te.time_entry_id, p.crm_contract_id AS contract_id, p.legal_entity,
           CASE WHEN b.time_entry_id IS NOT NULL THEN b.billed_quantity ELSE bt.batched_quantity END AS used_hours
    FROM canonical.time_entry_asof($as_of::DATE, scoped := $scoped) AS te
    JOIN canonical.project_asof($as_of::DATE) AS p USING (project_id)
    LEFT JOIN billed AS b USING (time_entry_id)
    LEFT JOIN time_batched_before($as_of::DATE, $scoped) AS bt USING (time_entry_id)
    WHERE p.crm_contract_id IN (SELECT c.contract_id FROM capped_contracts AS c)
      AND list_contains($legal_entities, p.legal_entity)
)
SELECT time_entry_id, contract_id, used_hours, $as_of::DATE AS as_of_date, legal_entity
FROM used WHERE used_hours IS NOT NULL
