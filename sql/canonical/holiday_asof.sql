-- Public holidays: the latest version of each (country, date); calendars are known ahead of time.
SELECT *
FROM latest_version('canonical.holiday_history', {'country': country, 'holiday_date': holiday_date}, TRUE,
                    _extracted_at)
