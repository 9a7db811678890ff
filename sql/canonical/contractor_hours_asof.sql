-- Contractor hours: the latest delivery of each (period, worker).
SELECT *
FROM latest_version('canonical.contractor_hours_history', {'period_id': period_id, 'employee_id': employee_id}, TRUE,
                    _extracted_at)
