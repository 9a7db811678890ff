-- Public holidays: the latest version of each (country, date); calendars are known ahead of time.
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY country, holiday_date ORDER BY _extracted_at DESC) AS rn
    FROM canonical.holiday_history
) AS latest WHERE rn = 1
