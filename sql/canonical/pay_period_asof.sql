-- Pay periods: the latest delivery of each period.
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY period_id ORDER BY _extracted_at DESC) AS rn FROM canonical.pay_period_history
) AS latest WHERE rn = 1
