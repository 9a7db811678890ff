-- Employee history as known at the end of as_of: versions that started by then, the last one open-ended.
SELECT * REPLACE (CASE WHEN valid_to > as_of THEN NULL ELSE valid_to END AS valid_to)
FROM canonical.employee_history WHERE valid_from <= as_of
