-- PSA expenses as they stood at the end of as_of: the latest version updated by then. live_approved: approved
-- and not deleted.
SELECT *, is_live_approved(status, deleted_at) AS live_approved
FROM latest_version('canonical.expense_history', expense_id, updated_at < as_of_end(as_of),
                    updated_at, stamp2 := _extracted_at)
