-- Invoices as of the end of as_of: the version with the latest Last Modified among files dated by then.
SELECT *
FROM latest_version('canonical.invoice_history', invoice_id, file_date <= as_of AND last_modified < as_of_end(as_of),
                    last_modified, stamp2 := file_date, stamp3 := _extracted_at)
