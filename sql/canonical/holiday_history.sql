-- Public holidays per country (latest drop of each year wins).
SELECT country, CAST(date AS DATE) AS holiday_date, name AS holiday_name, _file_date AS report_date,
       _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.hr_holidays WHERE delivered(_extract_id, _source_file)
