-- The workers recon.contractor_hours reports on for as-of date $as_of, with their PSA resources: contingent workers
-- matched to a resource on that date. $partial (an incremental rerun): only those matched to a resource that
-- worked, in any version, an entry ops.recon_scope marks recomputed (an entry that arrived since the last run).
SELECT DISTINCT x.employee_id, x.resource_id
FROM canonical.xwalk_resource_employee_asof($as_of::DATE) AS x
INNER JOIN canonical.employee_latest_asof($as_of::DATE) AS e ON x.employee_id = e.employee_id
WHERE
    x.match_status = 'MATCHED' AND is_contingent(e.worker_type)
    AND (NOT $partial OR x.employee_id IN (
        SELECT y.employee_id
        FROM canonical.xwalk_resource_employee_asof($as_of::DATE) AS y
        WHERE y.match_status = 'MATCHED' AND y.resource_id IN (
            SELECT h.resource_id FROM canonical.time_entry_history AS h
            WHERE recomputed_by_recon(h.time_entry_id, $partial)
        )
    ))
