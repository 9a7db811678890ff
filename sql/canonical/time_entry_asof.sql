-- Time entries as they stood at the end of as_of: the latest state is the highest revision updated by then
-- (ties: the latest updated_at). live_approved: approved and not deleted. The latest version is found by an
-- aggregate on the key (a hash aggregate, cheaper than sorting every revision) and joined back by its row id (a
-- number: the aggregate and the join hold 8 bytes per entry where the record hash held a string).
-- An entry with no version by then, submitted by then, whose first known version was edited (revision > 1) or
-- deleted after it, had an earlier state that was never extracted (the PSA keeps the current version only): its
-- first known version stands in, `reconstructed` (what it said then is not known, so billing on it is held:
-- recon.billing_holds). One merely approved after the date is not in force on it: it was awaiting approval.
-- With `scoped`, only the entries of ops.recon_scope (an incremental recon run), filtered before aggregating; with
-- `restamped`, only entries with a version stamped after the date (the only ones that can be reconstructed); with
-- `unplaced`, only entries with a version on a project the PSA does not have on the date (recon.billing_holds).
WITH unplaced_entries AS (
    SELECT DISTINCT time_entry_id FROM canonical.time_entry_history
    WHERE unplaced AND project_id NOT IN (SELECT p.project_id FROM canonical.project_asof(as_of) AS p)
),
latest AS (
    SELECT time_entry_id, arg_max(rowid, {'revision': revision, 'updated_at': updated_at, 'extracted': _extracted_at}) AS rid
    FROM canonical.time_entry_history WHERE updated_at < as_of_end(as_of) AND in_recon_scope(time_entry_id, scoped)
        AND (NOT unplaced OR time_entry_id IN (SELECT time_entry_id FROM unplaced_entries))
        AND (NOT restamped OR time_entry_id IN (SELECT r.time_entry_id FROM canonical.time_entry_history AS r
                                                WHERE r.updated_at >= as_of_end(as_of)))
    GROUP BY time_entry_id
),
first_known AS (  -- over the versions stamped after the date only: on the newest date they are today's few
    SELECT time_entry_id, arg_min(rowid, {'revision': revision, 'updated_at': updated_at}) AS rid,
           min(submitted_at) AS submitted
    FROM canonical.time_entry_history WHERE updated_at >= as_of_end(as_of) AND in_recon_scope(time_entry_id, scoped)
        AND (NOT unplaced OR time_entry_id IN (SELECT time_entry_id FROM unplaced_entries))
    GROUP BY time_entry_id
),
chosen AS (
    SELECT time_entry_id, rid, FALSE AS reconstructed FROM latest
    UNION ALL
    SELECT time_entry_id, rid, TRUE FROM first_known
    WHERE submitted < as_of_end(as_of) AND time_entry_id NOT IN (SELECT time_entry_id FROM latest)
)
SELECT t.*, is_live_approved(t.status, t.deleted_at) AS live_approved, c.reconstructed
FROM canonical.time_entry_history t
JOIN chosen c ON c.time_entry_id = t.time_entry_id AND c.rid = t.rowid
WHERE NOT c.reconstructed OR t.revision > 1 OR t.deleted_at >= as_of_end(as_of)
