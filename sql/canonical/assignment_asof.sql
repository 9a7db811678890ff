-- PSA assignments as they stood at the end of as_of: the latest version updated by then; one with no version by
-- then whose start date shows it existed stands in with its first known version, `reconstructed` (as projects).
SELECT * EXCLUDE (rn) FROM (
    SELECT *, updated_at >= as_of_end(as_of) AS reconstructed,
           row_number() OVER (PARTITION BY assignment_id ORDER BY psa_version_rank(updated_at, as_of), _extracted_at DESC) AS rn
    FROM canonical.assignment_history
) AS latest WHERE rn = 1 AND (NOT reconstructed OR start_date <= as_of)
