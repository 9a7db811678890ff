"""Pricing the simulated work: each entry at the rate its contract gives, month by month, and classified as
recon should classify it."""

from __future__ import annotations

import numpy as np
import polars as pl

from estate.anomalies import Injected
from estate.config import month_start
from estate.money import quantity_cents
from estate.rates import expected_rates
from estate.reference import ENTITIES, ROLE_NAMES
from estate.truth import classify

# what pricing, invoicing and the oracle read of an entry (the PSA's text columns stay out: at L they are GBs)
RATED_COLUMNS = (
    "time_entry_id",
    "worker",
    "day",
    "project_id",
    "role",
    "minutes",
    "billable",
    "status",
    "approved_sec",
    "deleted_sec",
    "revision",
)


def rate_entries(cfg, people, com, entries: pl.DataFrame) -> pl.DataFrame:
    regions = np.array([e.region for e in ENTITIES])[people.entity]
    e = (
        entries.select(RATED_COLUMNS)
        .with_columns(
            role_name=pl.col("role").cast(pl.Int64).replace_strict(dict(enumerate(ROLE_NAMES)), return_dtype=pl.Utf8),
            quantity_cents=quantity_cents(pl.col("minutes").cast(pl.Int64)),
        )
        .join(pl.DataFrame({"worker": np.arange(people.n, dtype=np.int32), "region_name": regions}), on="worker")
        .join(
            com.projects.select(
                "project_id",
                "billing_type",
                "currency",
                "legal_entity",
                "account",
                "project_code",
                project_status="status",
                contract_id="crm_contract_id",
            ),
            on="project_id",
        )
    )
    return expected_rates(cfg, com, e)


def month_slices(cfg, entries: pl.DataFrame) -> list[pl.DataFrame]:
    """The entries a calendar month at a time (they are sorted by work day, so these are zero-copy slices):
    pricing and the oracle work on one month of a 9 M-entry estate at a time, in work-date order."""
    days = entries["day"].to_numpy()
    assert (np.diff(days) >= 0).all(), "entries sorted by work day"
    n_months = cfg.months + 1  # the next month too: nothing is after it
    bounds = [(month_start(cfg.start_date, k) - cfg.start_date).days for k in range(n_months)]
    cut = np.searchsorted(days, bounds[1:], side="left").tolist()
    starts = [0, *cut]
    ends = [*cut, len(days)]
    # no entries at all (a firm too small to have worked yet): one empty slice, so every result has its columns
    return [entries.slice(a, b - a) for a, b in zip(starts, ends) if b > a] or [entries]


# what the oracle reads of a priced entry, and what the truth files and NTE caps read of its verdict
CLASSIFIED_INPUT = (
    "time_entry_id",
    "worker",
    "day",
    "minutes",
    "quantity_cents",
    "revision",
    "billable",
    "status",
    "deleted_sec",
    "billing_type",
    "project_status",
    "account",
    "contract_id",
    "contract_ok",
    "expected_rate_e4",
    "standard_rate_e4",
)


def classify_entries(
    people,
    com,
    rated: pl.DataFrame,
    stats: pl.DataFrame,
    inj: Injected,
    caps: pl.DataFrame,
    used: pl.DataFrame | None = None,
    carried: pl.DataFrame | None = None,
) -> pl.DataFrame:
    hr_term = people.hr_term if people.hr_term is not None else people.term
    w = pl.DataFrame(
        {
            "worker": np.arange(people.n, dtype=np.int32),
            "hire": people.hire,
            "hr_term": hr_term,
            "mapped": ~np.isin(np.arange(people.n), inj.unmapped_workers),
        }
    )
    e = (
        rated.select(CLASSIFIED_INPUT)
        .join(w, on="worker")
        .join(com.accounts.select("account", customer_ok="erp_mapped"), on="account")
        .with_columns(
            live_approved=(pl.col("status") == "approved") & (pl.col("deleted_sec") < 0),
            employed=(pl.col("day") >= pl.col("hire")) & (pl.col("day") <= pl.col("hr_term")),
        )
    )
    return classify(e, stats, caps, used, carried)
