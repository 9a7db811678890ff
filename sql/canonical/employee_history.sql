-- Employees as type-2 history from the HR snapshots: a snapshot dated D states a worker's attributes from D
-- until the next snapshot that changes them (valid_to exclusive; NULL while current). A worker missing
-- from a later snapshot is not deleted: only termination_date ends employment.
WITH snap AS (
    SELECT * EXCLUDE (rn) FROM (
        SELECT
            employee_id, worker_name, worker_type, CAST(hire_date AS DATE) AS hire_date,
            CAST(termination_date AS DATE) AS termination_date, company AS legal_entity, cost_center, cost_center_name,
            country, job_profile, practice, CAST(scheduled_weekly_hours AS DECIMAL(10, 2)) AS scheduled_weekly_hours,
            CAST(hourly_cost_rate AS DECIMAL(18, 4)) AS hourly_cost_rate, cost_rate_currency,
            skills, nullif(manager_id, '') AS manager_id, _file_date AS snapshot_date, _extract_id, _record_hash,
            row_number() OVER (PARTITION BY employee_id, _file_date ORDER BY _extracted_at DESC) AS rn
        FROM raw.hr_workers WHERE delivered(_extract_id, _source_file)
    ) AS latest WHERE rn = 1
),
marked AS (
    SELECT *, md5(concat_ws('|', worker_name, worker_type, hire_date, termination_date, legal_entity, cost_center,
                            cost_center_name, country, job_profile, practice, scheduled_weekly_hours, hourly_cost_rate,
                            cost_rate_currency, skills, manager_id)) AS attr_hash
    FROM snap
),
changes AS (
    SELECT * FROM (
        SELECT *, lag(attr_hash) OVER (PARTITION BY employee_id ORDER BY snapshot_date) AS prev_hash FROM marked
    ) AS compared WHERE prev_hash IS NULL OR prev_hash <> attr_hash
)
SELECT employee_id, worker_name, worker_type, hire_date, termination_date, legal_entity, cost_center, cost_center_name,
       country, job_profile, practice, scheduled_weekly_hours, hourly_cost_rate, cost_rate_currency, skills, manager_id,
       snapshot_date AS valid_from,
       lead(snapshot_date) OVER (PARTITION BY employee_id ORDER BY snapshot_date) AS valid_to,
       employee_id || '|' || snapshot_date AS _record_key, _record_hash, _extract_id
FROM changes
