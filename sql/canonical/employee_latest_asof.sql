-- Each employee's latest attributes known at the end of as_of: the version of the latest HR snapshot by then
-- (employment dates, worker type, entity, practice, cost center, job profile, country, weekly hours).
SELECT * FROM canonical.employee_asof(as_of)
QUALIFY row_number() OVER (PARTITION BY employee_id ORDER BY valid_from DESC) = 1
