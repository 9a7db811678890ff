-- Opportunities as they stood at the end of as_of (latest version, deletions applied).
SELECT *
FROM latest_version('canonical.opportunity_history', opportunity_id, _source_ts < as_of_end(as_of),
                    system_modstamp, stamp2 := extract_date, stamp3 := _extract_id)
WHERE NOT is_deleted
