-- Crosswalk PSA resource <-> HR employee as of the end of as_of: a resource maps when its hr_employee_id
-- names a worker of any HR snapshot by then.
SELECT r.resource_id, r.full_name, r.hr_employee_id, e.employee_id,
       CASE WHEN r.hr_employee_id IS NULL THEN 'NO_HR_ID'
            WHEN e.employee_id IS NULL THEN 'UNKNOWN_HR_ID'
            ELSE 'MATCHED' END AS match_status
FROM canonical.resource_asof(as_of) r
LEFT JOIN (SELECT DISTINCT employee_id FROM canonical.employee_asof(as_of)) e ON e.employee_id = r.hr_employee_id
