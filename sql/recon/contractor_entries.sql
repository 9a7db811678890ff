-- The time entries recon.contractor_hours reads for as-of date $as_of: every entry any version of which was
-- worked by a PSA resource matched to a contingent worker as of that date (an entry moved between resources is
-- read whole, so its latest version decides).
SELECT DISTINCT h.time_entry_id, TRUE AS recompute
FROM canonical.time_entry_history AS h
WHERE h.resource_id IN (
    SELECT x.resource_id
    FROM canonical.xwalk_resource_employee_asof($as_of::DATE) AS x
    INNER JOIN canonical.employee_latest_asof($as_of::DATE) AS e ON x.employee_id = e.employee_id
    WHERE x.match_status = 'MATCHED' AND is_contingent(e.worker_type)
)
