-- Invoices as of the end of as_of: the version with the latest Last Modified among files dated by then.
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY invoice_id ORDER BY last_modified DESC, file_date DESC, _extracted_at DESC) AS rn
    FROM canonical.invoice_history WHERE file_date <= as_of AND last_modified < as_of_end(as_of)
) AS latest WHERE rn = 1
