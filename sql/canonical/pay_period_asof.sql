-- Pay periods: the latest delivery of each period.
SELECT *
FROM latest_version('canonical.pay_period_history', period_id, TRUE,
                    _extracted_at)
