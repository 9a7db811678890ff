-- Hours paid to contingent workers per pay period.
SELECT period_id, employee_id, CAST(hours_paid AS DECIMAL(18, 2)) AS hours_paid,
       CAST(hourly_pay_rate AS DECIMAL(18, 4)) AS hourly_pay_rate, currency, _source_file,
       _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.payroll_contractor_hours WHERE delivered(_extract_id, _source_file)
