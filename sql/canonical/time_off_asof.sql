-- Time off as known at the end of as_of: for each year, the latest drop of that year replaces 1 January
-- through its report date.
WITH latest AS (
    SELECT year(report_date) AS yr, max(report_date) AS report_date
    FROM canonical.time_off_history WHERE report_date <= as_of GROUP BY 1
)
SELECT t.* FROM canonical.time_off_history t
JOIN latest l ON t.report_date = l.report_date AND year(t.off_date) = l.yr
