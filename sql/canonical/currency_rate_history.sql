-- ERP currency rates from every snapshot file: one unit of the transaction currency in the base currency.
SELECT base_currency, transaction_currency AS currency, CAST(effective_date AS DATE) AS effective_date,
       CAST(exchange_rate AS DECIMAL(18, 6)) AS rate, _file_date AS snapshot_date, _record_key, _record_hash, _extract_id
FROM raw.erp_currency_rates WHERE delivered(_extract_id, _source_file)
