-- Clients as they stood at the end of as_of: the latest version (ties: the later extract folder), not deleted.
SELECT *
FROM latest_version('canonical.client_history', crm_account_id, _source_ts < as_of_end(as_of),
                    system_modstamp, stamp2 := extract_date, stamp3 := _extract_id)
WHERE NOT is_deleted
