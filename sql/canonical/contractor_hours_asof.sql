-- Contractor hours: the latest delivery of each (period, worker).
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY period_id, employee_id ORDER BY _extracted_at DESC) AS rn
    FROM canonical.contractor_hours_history
) AS latest WHERE rn = 1
