-- PSA resources as they stood at the end of as_of: the latest version updated by then.
SELECT *
FROM latest_version('canonical.resource_history', resource_id, updated_at < as_of_end(as_of),
                    updated_at, stamp2 := _extracted_at)
