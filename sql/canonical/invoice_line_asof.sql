-- Invoice lines as of the end of as_of: an invoice's latest lines file (dated by then) replaces all its lines.
WITH latest AS (
    SELECT invoice_id, max(file_date) AS file_date, arg_max(_extract_id, file_date) AS extract_id
    FROM canonical.invoice_line_history WHERE file_date <= as_of GROUP BY invoice_id
)
SELECT l.* FROM canonical.invoice_line_history l
JOIN latest x ON l.invoice_id = x.invoice_id AND l.file_date = x.file_date AND l._extract_id = x.extract_id
