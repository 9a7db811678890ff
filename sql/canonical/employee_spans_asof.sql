-- The employee attributes in force on each day, as known at the end of as_of: every HR version with the span
-- of days it governs [span_from, span_to). The first version also governs the days before the first snapshot
-- (a worker's attributes are not known earlier). Join on day >= span_from AND day < span_to.
SELECT *,
       CASE WHEN valid_from = min(valid_from) OVER (PARTITION BY employee_id) THEN DATE '0001-01-01' ELSE valid_from END
           AS span_from,
       coalesce(valid_to, DATE '9999-12-31') AS span_to
FROM canonical.employee_asof(as_of)
