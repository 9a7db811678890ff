-- marts.utilization_weekly as of $as_of: one row per (employee, ISO week starting Monday) with any
-- capacity or hours. Capacity: Scheduled_Weekly_Hours / 5 for each Monday-Friday within employment that is
-- not a public holiday in the worker's country, with the attributes in force that day (before the first HR
-- snapshot, the first known attributes). Available = max(capacity - time off, 0). Hours: live-approved
-- entries of the employee, split by billable, in exact decimal hours. Utilization = hours / available (NULL when
-- available is 0). week_complete is false for the week of the as-of date, whose utilization is not final.
WITH
latest AS (SELECT * FROM canonical.employee_latest_asof($as_of::DATE)),
span AS (SELECT min(valid_from) AS d0 FROM canonical.employee_asof($as_of::DATE)),
days AS (SELECT CAST(range AS DATE) AS day FROM span, range(span.d0, $as_of::DATE + INTERVAL 1 DAY, INTERVAL 1 DAY)),
employment AS (SELECT employee_id, hire_date, termination_date FROM latest),
work_days AS (
    SELECT e.employee_id, d.day
    FROM employment e JOIN days d ON d.day >= e.hire_date AND (e.termination_date IS NULL OR d.day <= e.termination_date)
    WHERE isodow(d.day) <= 5
),
attributed AS (  -- the version in force that day (days before the first snapshot take the first version): only
                 -- what capacity needs, and the version's start, by which the week's attributes are found again
    SELECT w.employee_id, w.day, v.scheduled_weekly_hours, v.country, v.span_from
    FROM work_days w
    JOIN canonical.employee_spans_asof($as_of::DATE) v
      ON v.employee_id = w.employee_id AND w.day >= v.span_from AND w.day < v.span_to
),
capacity_days AS (  -- per (employee, week): the capacity of its working days (weekly hours / 5 a day: the exact
                    -- decimal hours summed, then divided once, so no order of the days changes a digit), and the
                    -- version in force on the first
    SELECT a.employee_id, CAST(date_trunc('week', a.day) AS DATE) AS week_start,
           sum(a.scheduled_weekly_hours) / 5 AS capacity_hours, arg_min(a.span_from, a.day) AS span_from
    FROM attributed a
    LEFT JOIN canonical.holiday_asof($as_of::DATE) h ON h.country = a.country AND h.holiday_date = a.day
    WHERE h.holiday_date IS NULL
    GROUP BY 1, 2
),
capacity AS (  -- a week's attributes are those of its first working day (millions of days, thousands of versions:
               -- the attributes are joined to the weeks, not carried through every day)
    SELECT c.employee_id, c.week_start, c.capacity_hours,
           v.legal_entity, v.practice, v.cost_center, v.job_profile
    FROM capacity_days c
    JOIN canonical.employee_spans_asof($as_of::DATE) v ON v.employee_id = c.employee_id AND v.span_from = c.span_from
),
time_off AS (
    SELECT employee_id, CAST(date_trunc('week', off_date) AS DATE) AS week_start, sum(hours) AS time_off_hours
    FROM canonical.time_off_asof($as_of::DATE) WHERE off_date <= $as_of::DATE GROUP BY 1, 2
),
hours AS (
    SELECT x.employee_id, CAST(date_trunc('week', t.work_date) AS DATE) AS week_start,
           coalesce(sum(t.time_in_minutes) FILTER (WHERE t.billable), 0) AS billable_minutes,
           coalesce(sum(t.time_in_minutes) FILTER (WHERE NOT t.billable), 0) AS non_billable_minutes
    FROM canonical.time_entry_asof($as_of::DATE) t
    JOIN canonical.xwalk_resource_employee_asof($as_of::DATE) x ON x.resource_id = t.resource_id AND x.match_status = 'MATCHED'
    WHERE t.live_approved AND t.work_date <= $as_of::DATE
    GROUP BY 1, 2
),
latest_attr AS (SELECT employee_id, legal_entity, practice, cost_center, job_profile FROM latest)
SELECT employee_id, week_start,
       coalesce(c.legal_entity, l.legal_entity) AS legal_entity, coalesce(c.practice, l.practice) AS practice,
       coalesce(c.cost_center, l.cost_center) AS cost_center, coalesce(c.job_profile, l.job_profile) AS job_profile,
       CAST(coalesce(c.capacity_hours, 0) AS DECIMAL(10, 2)) AS capacity_hours,
       CAST(coalesce(o.time_off_hours, 0) AS DECIMAL(10, 2)) AS time_off_hours,
       CAST(greatest(coalesce(c.capacity_hours, 0) - coalesce(o.time_off_hours, 0), 0) AS DECIMAL(10, 2)) AS available_hours,
       hours_of_minutes(coalesce(h.billable_minutes, 0)) AS billable_hours,
       hours_of_minutes(coalesce(h.non_billable_minutes, 0)) AS non_billable_hours,
       hours_of_minutes(coalesce(h.billable_minutes, 0) + coalesce(h.non_billable_minutes, 0)) AS total_hours,
       coalesce(h.billable_minutes, 0) / 60.0
           / nullif(greatest(coalesce(c.capacity_hours, 0) - coalesce(o.time_off_hours, 0), 0), 0) AS billable_utilization,
       (coalesce(h.billable_minutes, 0) + coalesce(h.non_billable_minutes, 0)) / 60.0
           / nullif(greatest(coalesce(c.capacity_hours, 0) - coalesce(o.time_off_hours, 0), 0), 0) AS total_utilization,
       -- the week of the as-of date is still being worked and approved: its utilization is not final
       week_start + 6 <= $as_of::DATE AS week_complete,
       $as_of::DATE AS as_of_date
FROM capacity c  -- every (employee, week) with capacity, hours or time off
FULL JOIN hours h USING (employee_id, week_start)
FULL JOIN time_off o USING (employee_id, week_start)
LEFT JOIN latest_attr l USING (employee_id)
WHERE week_start <= $as_of::DATE
ORDER BY employee_id, week_start
