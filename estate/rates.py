"""Contract version, rate card and expected rate of a time entry: the spec's rules, in polars."""

from __future__ import annotations

import polars as pl

from estate.commercial import Commercial
from estate.config import EstateConfig
from estate.money import expected_rate_e4


def _offset(col: str, cfg: EstateConfig) -> pl.Expr:
    return (pl.col(col) - pl.lit(cfg.start_date)).dt.total_days()


def _in_day_order(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in ``_d`` order for an as-of join; entries come a month at a time already in work-date order,
    and re-sorting millions of wide rows that are in order is most of the cost of pricing them."""
    if frame["_d"].is_sorted():
        return frame.with_columns(pl.col("_d").set_sorted())
    return frame.sort("_d")


def contract_terms(cfg: EstateConfig, com: Commercial, entries: pl.DataFrame) -> pl.DataFrame:
    """Adds card, discount_x10, contract_ok (a version is in force on the work date) per entry.

    Version: the Activated amendment with the latest start on or before the work date, else the
    Activated root contract when the date is within its start..end.
    """
    c = com.contracts
    roots = c.filter(pl.col("amends").is_null()).select(
        "project_id",
        root_id="Id",
        root_status="Status",
        root_start="start_day",
        root_end="end_day",
        root_card="card",
        root_disc="discount_x10",
    )
    amends = (
        c.filter(pl.col("amends").is_not_null() & (pl.col("Status") == "Activated"))
        .join(roots.select("project_id", "root_id"), left_on="amends", right_on="root_id")
        .select("project_id", am_start=pl.col("start_day").cast(pl.Int64), am_card="card", am_disc="discount_x10")
        .sort("am_start")
    )
    e = _in_day_order(entries.with_columns(pl.col("day").cast(pl.Int64).alias("_d")))
    e = e.join(roots, on="project_id", how="left")
    e = e.join_asof(
        amends, left_on="_d", right_on="am_start", by="project_id", strategy="backward", check_sortedness=False
    )
    root_ok = (
        (pl.col("root_status") == "Activated")
        & (pl.col("_d") >= pl.col("root_start"))
        & (pl.col("_d") <= pl.col("root_end"))
    )
    return (
        e.with_columns(
            card=pl.when(pl.col("am_card").is_not_null())
            .then(pl.col("am_card"))
            .when(root_ok)
            .then(pl.col("root_card")),
            discount_x10=pl.when(pl.col("am_card").is_not_null())
            .then(pl.col("am_disc"))
            .when(root_ok)
            .then(pl.col("root_disc")),
        )
        .with_columns(contract_ok=pl.col("card").is_not_null())
        .drop(
            "root_status",
            "root_start",
            "root_end",
            "root_card",
            "root_disc",
            "am_start",
            "am_card",
            "am_disc",
            "root_id",
        )
    )


def card_rates(cfg: EstateConfig, com: Commercial, frame: pl.DataFrame, card_col: str = "card") -> pl.DataFrame:
    """Adds rate_cents: the card row for (card, role, region, currency) effective on ``_d``."""
    rc = com.rate_cards.select(
        pl.col("card").alias(card_col),
        pl.col("role").alias("role_name"),
        pl.col("region").alias("region_name"),
        "currency",
        eff_from_d=_offset("eff_from", cfg).cast(pl.Int64),
        eff_to_d=_offset("eff_to", cfg).cast(pl.Int64),
        rate_cents="rate_cents",
    ).sort("eff_from_d")
    out = _in_day_order(frame).join_asof(
        rc,
        left_on="_d",
        right_on="eff_from_d",
        by=[card_col, "role_name", "region_name", "currency"],
        strategy="backward",
        check_sortedness=False,
    )
    return out.with_columns(
        rate_cents=pl.when(pl.col("eff_to_d").is_null() | (pl.col("_d") <= pl.col("eff_to_d"))).then(
            pl.col("rate_cents")
        )
    ).drop("eff_from_d", "eff_to_d")


def expected_rates(cfg: EstateConfig, com: Commercial, entries: pl.DataFrame) -> pl.DataFrame:
    """Entries (with role_name, region_name, currency, project_id, day) plus card, discount, rates."""
    e = contract_terms(cfg, com, entries)
    e = card_rates(cfg, com, e)
    return e.with_columns(
        expected_rate_e4=expected_rate_e4(pl.col("rate_cents"), pl.col("discount_x10")),
        standard_rate_e4=pl.col("rate_cents") * 100,
    )
