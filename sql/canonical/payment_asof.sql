-- Payments as of the end of as_of: the latest version of each payment among files dated by then.
SELECT *
FROM latest_version('canonical.payment_history', payment_id, file_date <= as_of,
                    file_date, stamp2 := _extracted_at)
