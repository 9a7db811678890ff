-- The open exceptions of recon.contractor_hours for as-of date $as_of, in the shape of ops.exceptions:
-- one per (closed pay period, contingent worker) whose paid and approved hours disagree, for hr.
SELECT
    CAST(period_id AS VARCHAR) || '|' || CAST(employee_id AS VARCHAR) AS record_key,
    recon_status AS rule,
    concat('contractor_hours: ', period_id, ' ', employee_id, ' is ', recon_status) AS message,
    owner,
    CAST(NULL AS VARCHAR) AS file,
    CAST(NULL AS BIGINT) AS row_number
FROM recon.contractor_hours
WHERE as_of_date = $as_of AND owner IS NOT NULL
