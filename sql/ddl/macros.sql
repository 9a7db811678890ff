-- Scalar macros for exact money arithmetic: one definition of each rounding rule.
-- Half-up rounding means ties away from zero, as Python's ROUND_HALF_UP and DuckDB's ROUND on DECIMAL.
CREATE OR REPLACE MACRO div_half_up(num, den) AS
    sign(num) * ((abs(num) * 2 + den) // (2 * den));
-- hours rounded half-up to 2 decimals (the quantity of a billing line), exactly
CREATE OR REPLACE MACRO quantity_of_minutes(minutes) AS
    CAST(CAST(div_half_up(CAST(minutes AS HUGEINT) * 100, 60) AS DECIMAL(38, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2));
-- amount x rate(A) / rate(B), half-up to the cent, without passing through floating point
CREATE OR REPLACE MACRO convert_money(amount, rate_from, rate_to) AS
    CAST(CAST(div_half_up(CAST(round(amount * 100) AS HUGEINT) * CAST(round(rate_from * 1000000) AS HUGEINT),
                          CAST(round(rate_to * 1000000) AS HUGEINT)) AS DECIMAL(38, 0))
         * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2));
-- end of an as-of date: a run for date D sees source records stamped before D + 1 day (UTC)
CREATE OR REPLACE MACRO as_of_end(d) AS CAST(d AS TIMESTAMP) + INTERVAL 1 DAY;
