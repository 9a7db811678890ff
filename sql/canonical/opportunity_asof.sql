-- Opportunities as they stood at the end of as_of (latest version, deletions applied).
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY opportunity_id ORDER BY system_modstamp DESC, extract_date DESC, _extract_id DESC) AS rn
    FROM canonical.opportunity_history WHERE _source_ts < as_of_end(as_of)
) AS latest WHERE rn = 1 AND NOT is_deleted
