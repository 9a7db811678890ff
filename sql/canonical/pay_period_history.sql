-- Payroll periods and their lock dates.
SELECT company AS legal_entity, period_id, CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date,
       CAST(lock_date AS DATE) AS lock_date, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.payroll_pay_periods WHERE delivered(_extract_id, _source_file)
