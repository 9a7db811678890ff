-- Currency conversion, the one definition every query uses (created with canonical.currency_rate_asof, which it reads;
-- a query that calls these macros depends on the currency rates: assets/dependencies.py reads that from here).
-- noqa: disable=CP05
-- the ERP rate of a currency in force on a date: the latest rate effective by then, as the rates stood at the end of
-- as_of (NULL: no rate known). DuckDB runs it once per distinct (currency, date) of the rows that ask
CREATE OR REPLACE MACRO fx_rate_on(cur, on_date, as_of) AS (
    SELECT arg_max(f.rate, f.effective_date) FROM canonical.currency_rate_asof(as_of) AS f
    WHERE f.currency = cur AND f.effective_date <= on_date);
-- an amount in another currency at the ERP rates in force on a date, half-up to the cent; in its own currency
-- unchanged; NULL when either rate is missing (what that holds is the caller's rule)
CREATE OR REPLACE MACRO in_currency(amount, cur_from, cur_to, on_date, as_of) AS
    CASE WHEN cur_from = cur_to THEN amount
         ELSE convert_money(amount, fx_rate_on(cur_from, on_date, as_of), fx_rate_on(cur_to, on_date, as_of)) END;
