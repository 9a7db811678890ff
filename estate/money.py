"""Exact money arithmetic on integers: cents, rates in 1/10,000, FX in 1/1,000,000.

The generator is an independent oracle for the pipeline, so it computes every amount with
integer arithmetic and half-up rounding (ties away from zero), as the billing rules prescribe (docs/recon.md).
"""

from __future__ import annotations

import numpy as np
import polars as pl


def div_half_up(num, den):
    """Integer division rounding half away from zero, for numpy arrays or polars expressions."""
    if isinstance(num, pl.Expr):
        sign = pl.when(num < 0).then(-1).otherwise(1)
        return sign * ((num.abs() * 2 + den) // (2 * den))
    num = np.asarray(num, dtype=np.int64)
    return np.sign(num) * ((np.abs(num) * 2 + den) // (2 * den))


def quantity_cents(minutes):
    """Hours rounded half-up to 2 decimals, in hundredths of an hour."""
    return div_half_up(minutes * 100, 60)


def expected_rate_e4(rate_cents, discount_x10):
    """Card rate times (1 - discount/100), rounded half-up to 4 decimals (in 1/10,000)."""
    return div_half_up(rate_cents * (1000 - discount_x10), 10)


def amount_cents(qty_cents, rate_e4):
    return div_half_up(qty_cents * rate_e4, 10_000)


def tax_cents(amount, rate_bp):
    return div_half_up(amount * rate_bp, 10_000)


def convert_cents(amount, rate_from_micro, rate_to_micro):
    """amount x rate(A) / rate(B), half-up to the cent."""
    return div_half_up(amount * rate_from_micro, rate_to_micro)


def fmt_fixed(values: pl.Expr, scale: int) -> pl.Expr:
    """Integer units of 10^-scale as a fixed-point string such as '-12.50' (one concatenation: at L this formats
    tens of millions of amounts)."""
    v = values.cast(pl.Int64)
    sign = pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (v.abs() // 10**scale).cast(pl.Utf8)
    frac = (v.abs() % 10**scale + 10**scale).cast(pl.Utf8).str.slice(1)  # the leading 1 keeps the zeros
    return pl.concat_str([sign, whole, pl.lit("."), frac])
