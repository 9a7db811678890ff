-- Work a pending billing batch carries that the PSA no longer holds as approved at the end of $as_of: the entry was
-- deleted, or sent back (no longer approved), after the batch was emitted. Releasing the batch would bill it, so it
-- is held until finance decides (workbench/batches.py): one row per batch and time entry, with the money at stake.
SELECT
    l.batch_id,
    l.source_id AS time_entry_id,
    any_value(l.currency) AS currency,
    sum(l.amount) AS amount,
    CASE WHEN any_value(t.deleted_at) IS NOT NULL THEN 'deleted' ELSE 'now ' || any_value(t.status) END AS what
FROM billing.batch_lines AS l
INNER JOIN canonical.time_entry_asof($as_of::DATE) AS t ON l.source_id = t.time_entry_id
WHERE
    list_contains($pending::VARCHAR [], l.batch_id)
    AND l.item IN ('PS-TM-HOURS', 'PS-ADJUSTMENT')
    AND NOT t.live_approved
GROUP BY l.batch_id, l.source_id
ORDER BY l.batch_id, l.source_id
