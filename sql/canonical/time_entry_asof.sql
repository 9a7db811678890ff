-- Time entries as they stood at the end of as_of: the latest state is the highest revision updated by then
-- (ties: the latest updated_at). live_approved: approved and not deleted. The latest version is found by an
-- aggregate on the key (a hash aggregate, cheaper than sorting every revision) and joined back by its hash.
WITH latest AS (
    SELECT time_entry_id, arg_max(_record_hash, {'revision': revision, 'updated_at': updated_at, 'extracted': _extracted_at}) AS h
    FROM canonical.time_entry_history WHERE updated_at < as_of_end(as_of)
    GROUP BY time_entry_id
)
SELECT t.*, t.status = 'approved' AND t.deleted_at IS NULL AS live_approved
FROM canonical.time_entry_history t
JOIN latest l ON l.time_entry_id = t.time_entry_id AND l.h = t._record_hash
