"""Day arithmetic on the estate horizon: days are integer offsets from the start date."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from estate.reference import ENTITIES, public_holidays

EPOCH = date(1970, 1, 1)


def offsets_to_dates(offsets: np.ndarray | pl.Expr, start: date):
    """Integer day offsets from ``start`` to a polars Date series/expression."""
    base = (start - EPOCH).days
    if isinstance(offsets, pl.Expr):
        return (offsets + base).cast(pl.Int32).cast(pl.Date)
    return pl.Series(np.asarray(offsets, dtype=np.int64) + base).cast(pl.Int32).cast(pl.Date)


def holiday_matrix(start: date, n_days: int) -> np.ndarray:
    """Boolean matrix [country index of ENTITIES, day offset]: True on a public holiday."""
    mat = np.zeros((len(ENTITIES), n_days), dtype=bool)
    end = start + timedelta(days=n_days - 1)
    for ci, ent in enumerate(ENTITIES):
        for year in range(start.year, end.year + 1):
            for d, _ in public_holidays(ent.country, year):
                off = (d - start).days
                if 0 <= off < n_days:
                    mat[ci, off] = True
    return mat


def weekdays(start: date, n_days: int) -> np.ndarray:
    """Weekday (0=Monday) of each day offset."""
    return (np.arange(n_days) + start.weekday()) % 7


def holidays_frame(start: date, end: date) -> pl.DataFrame:
    rows = []
    for ent in ENTITIES:
        for year in range(start.year, end.year + 1):
            for d, name in public_holidays(ent.country, year):
                rows.append((year, ent.country, d.isoformat(), name))
    return pl.DataFrame(rows, schema=["year", "Country", "Date", "Name"], orient="row")
