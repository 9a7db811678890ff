-- Every approved time-off day as each HR drop reported it.
SELECT employee_id, CAST(date AS DATE) AS off_date, CAST(hours AS DECIMAL(10, 2)) AS hours, type AS off_type,
       _file_date AS report_date, _record_key, _record_hash, _extract_id
FROM raw.hr_time_off WHERE delivered(_extract_id, _source_file)
