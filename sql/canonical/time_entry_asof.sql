-- Time entries as they stood at the end of as_of: the latest state is the highest revision updated by then
-- (ties: the latest updated_at). live_approved: approved and not deleted.
SELECT * EXCLUDE (rn), status = 'approved' AND deleted_at IS NULL AS live_approved FROM (
    SELECT *, row_number() OVER (PARTITION BY time_entry_id ORDER BY revision DESC, updated_at DESC, _extracted_at DESC) AS rn
    FROM canonical.time_entry_history WHERE updated_at < as_of_end(as_of)
) WHERE rn = 1
