-- PSA milestones as they stood at the end of as_of: the latest version updated by then.
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY milestone_id ORDER BY updated_at DESC, _extracted_at DESC) AS rn
    FROM canonical.milestone_history WHERE updated_at < as_of_end(as_of)
) AS latest WHERE rn = 1
