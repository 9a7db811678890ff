-- Clients as they stood at the end of as_of: the latest version (ties: the later extract folder), not deleted.
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY crm_account_id ORDER BY system_modstamp DESC, extract_date DESC, _extract_id DESC) AS rn
    FROM canonical.client_history WHERE _source_ts < as_of_end(as_of)
) AS latest WHERE rn = 1 AND NOT is_deleted
