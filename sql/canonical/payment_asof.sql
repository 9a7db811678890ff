-- Payments as of the end of as_of: the latest version of each payment among files dated by then.
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY payment_id ORDER BY file_date DESC, _extracted_at DESC) AS rn
    FROM canonical.payment_history WHERE file_date <= as_of
) AS latest WHERE rn = 1
