"""ERP billing history: monthly invoices that bill approved work correctly, some voided, payments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from estate.commercial import Commercial
from estate.config import EstateConfig, month_start
from estate.money import amount_cents, convert_cents, quantity_cents, tax_cents
from estate.rates import card_rates
from estate.work import DAY, Work

INVOICE_DAY_OF_MONTH = 5


@dataclass
class Billing:
    invoices: pl.DataFrame
    lines: pl.DataFrame
    payments: pl.DataFrame
    cycle_days: np.ndarray  # invoice run day offsets
    month_days: np.ndarray  # first-of-month day offsets, horizon months and the next one
    skipped_runs: pl.DataFrame  # (project_id, cycle): approved time an invoice run left out (leakage)


def calendar(cfg: EstateConfig) -> tuple[np.ndarray, np.ndarray]:
    months = np.array([(month_start(cfg.start_date, k) - cfg.start_date).days for k in range(cfg.months + 1)])
    cycles = months[1:] + INVOICE_DAY_OF_MONTH - 1
    n_days = (cfg.end_date - cfg.start_date).days + 1
    return cycles[cycles < n_days], months


def cycle_of(work_day: np.ndarray, ready_day: np.ndarray, cycles: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Index of the first invoice run after the work month that comes after the item was ready;
    ``len(cycles)`` when no run within the horizon picks it up."""
    k_work = np.searchsorted(months, work_day, side="right") - 1  # month index; run k bills months < k+1
    k_ready = np.searchsorted(cycles, ready_day, side="right")
    return np.minimum(np.maximum(k_work, k_ready), len(cycles))


def fx_on(com: Commercial, cfg: EstateConfig, frame: pl.DataFrame, cur_col: str, out: str) -> pl.DataFrame:
    fx = com.fx.select(
        pl.col("currency").alias(cur_col),
        _d=(pl.col("eff_from") - pl.lit(cfg.start_date)).dt.total_days().cast(pl.Int64),
        **{out: "rate_micro"},
    ).sort("_d")
    return frame.sort("_d").join_asof(fx, on="_d", by=cur_col, strategy="backward", check_sortedness=False)


def skipped_runs(time_lines: pl.DataFrame, rng, rate: float) -> pl.DataFrame:
    """Leakage as firms know it: in every invoice run a few T&M projects' approved time is left out (the project
    manager was away, the run was closed early), in ``rate`` of the projects billed in that run and at least one.
    Spread over every run of the horizon, so unbilled work ages into every WIP bucket as in a real firm."""
    pairs = time_lines.select("project_id", "cycle").unique().sort("cycle", "project_id")
    chosen = []
    for (_cycle,), group in pairs.group_by(["cycle"], maintain_order=True):
        k = max(1, round(rate * group.height))
        chosen.append(group[np.sort(rng.permutation(group.height)[:k])])
    return pl.concat(chosen) if chosen else pairs


def invoiceable_time(cfg: EstateConfig, com: Commercial, rated: pl.DataFrame) -> pl.DataFrame:
    """Of priced entries (``rated``: expected_rate_e4, null when no rate, and project attributes), the approved
    billable T&M ones, with the rate the ERP bills where pssync has none: the entity's standard card rate."""
    tm = rated.filter((pl.col("status") == "approved") & pl.col("billable") & (pl.col("billing_type") == "tm"))
    std = card_rates(
        cfg,
        com,
        tm.select("time_entry_id", "_d", "role_name", "region_name", "currency", "legal_entity").with_columns(
            std_card="RC-" + pl.col("legal_entity") + "-STD"
        ),
        card_col="std_card",
    )
    return tm.select(
        "time_entry_id", "project_id", "day", "approved_sec", "minutes", "revision", "expected_rate_e4"
    ).join(std.select("time_entry_id", std_rate_e4=pl.col("rate_cents") * 100), on="time_entry_id")


def simulate(cfg: EstateConfig, com: Commercial, work: Work, tm: pl.DataFrame, rng) -> Billing:
    """``tm``: the invoiceable time (``invoiceable_time``), all of it."""
    cycles, months = calendar(cfg)
    projects = com.projects
    k = cycle_of(tm["day"].to_numpy(), tm["approved_sec"].to_numpy() // DAY, cycles, months)
    time_lines = (
        tm.with_columns(cycle=pl.Series(k))
        .filter(pl.col("cycle") < len(cycles))
        .select(
            "project_id",
            "cycle",
            item=pl.lit("PS-TM-HOURS"),
            source_id="time_entry_id",
            service_day="day",
            quantity_cents=quantity_cents(pl.col("minutes")),
            rate_e4=pl.coalesce("expected_rate_e4", "std_rate_e4"),
            billed_revision="revision",
        )
    )

    skipped = skipped_runs(time_lines, rng, cfg.anomaly_rate)
    time_lines = time_lines.join(skipped, on=["project_id", "cycle"], how="anti")

    ms = work.milestones.filter(pl.col("status") == "accepted")
    acc_day = ms["accepted_sec"].to_numpy() // DAY
    ms_lines = (
        ms.with_columns(cycle=pl.Series(cycle_of(acc_day, acc_day, cycles, months)))
        .filter(pl.col("cycle") < len(cycles))
        .select(
            "project_id",
            "cycle",
            item=pl.lit("PS-FF-MILESTONE"),
            source_id="milestone_id",
            service_day=(pl.col("accepted_sec") // DAY).cast(pl.Int32),
            quantity_cents=pl.lit(100),
            rate_e4=pl.col("amount_cents") * 100,
            billed_revision=pl.lit(1),
        )
    )

    ex = work.expenses.filter((pl.col("status") == "approved") & pl.col("billable") & (pl.col("deleted_sec") < 0))
    ex = ex.join(projects.select("project_id", "billing_type", contract_currency="currency"), on="project_id")
    ex = ex.filter(pl.col("billing_type") != "non_billable").with_columns(_d=pl.col("day").cast(pl.Int64))
    ex = fx_on(com, cfg, ex, "currency", "fx_from")
    ex = fx_on(com, cfg, ex.with_columns(_cc=pl.col("contract_currency")), "_cc", "fx_to")
    ex = ex.with_columns(converted=convert_cents(pl.col("amount_cents"), pl.col("fx_from"), pl.col("fx_to")))
    k = cycle_of(ex["day"].to_numpy(), ex["approved_sec"].to_numpy() // DAY, cycles, months)
    ex_lines = (
        ex.with_columns(cycle=pl.Series(k))
        .filter(pl.col("cycle") < len(cycles))
        .select(
            "project_id",
            "cycle",
            item=pl.lit("PS-EXPENSE"),
            source_id="expense_id",
            service_day="day",
            quantity_cents=pl.lit(100),
            rate_e4=pl.col("converted") * 100,
            billed_revision=pl.lit(1),
        )
    )

    lines = pl.concat([time_lines, ms_lines, ex_lines], how="vertical_relaxed").with_columns(
        pl.col("cycle").cast(pl.Int32),
        pl.col("service_day").cast(pl.Int32),
        pl.col("source_id").cast(pl.Int64),
        pl.col("quantity_cents").cast(pl.Int64),
        pl.col("rate_e4").cast(pl.Int64),
    )
    heads = (
        lines.select("project_id", "cycle")
        .unique()
        .join(
            projects.select("project_id", "project_code", "account", "currency", "entity", "legal_entity"),
            on="project_id",
        )
        .join(com.accounts.select("account", "customer_internal_id", "tax_code"), on="account")
        .with_columns(day=pl.col("cycle").replace_strict(dict(enumerate(cycles.tolist())), return_dtype=pl.Int64))
        .sort(["cycle", "project_id"])
    )
    # a few invoices are voided days later and re-issued with the same lines
    n = heads.height
    n_days = (cfg.end_date - cfg.start_date).days + 1
    void_day = heads["day"].to_numpy() + rng.integers(2, 9, size=n)
    voided = (rng.random(n) < 0.02) & (void_day < n_days)
    heads = heads.with_columns(
        void_day=pl.Series(np.where(voided, void_day, -1).astype(np.int64)), reissue=pl.lit(False)
    )
    reissues = heads.filter(pl.col("void_day") >= 0).with_columns(
        day=pl.col("void_day"), void_day=pl.lit(-1, dtype=pl.Int64), reissue=pl.lit(True)
    )
    heads = (
        pl.concat([heads, reissues], how="vertical_relaxed")
        .sort(["day", "reissue", "project_id"])
        .with_row_index("invoice_id", offset=1_000_001)
        .with_columns(pl.col("invoice_id").cast(pl.Int64))
    )
    lines = _number_lines(cfg, com, heads, lines)
    totals = lines.group_by("invoice_id").agg(
        net_cents=pl.col("amount_cents").sum(), tax_total=pl.col("tax_cents").sum()
    )
    heads = heads.join(totals, on="invoice_id").with_columns(gross_cents=pl.col("net_cents") + pl.col("tax_total"))
    heads = _payments_and_status(heads, rng, n_days)
    payments = (
        heads.filter(pl.col("paid_day") >= 0)
        .sort(["paid_day", "invoice_id"])
        .with_row_index("payment_id", offset=5_000_001)
        .select(
            pl.col("payment_id").cast(pl.Int64),
            "invoice_id",
            day="paid_day",
            amount_cents="gross_cents",
            currency="currency",
        )
    )
    return Billing(heads, lines, payments, cycles, months, skipped)


def _payments_and_status(heads: pl.DataFrame, rng, n_days: int) -> pl.DataFrame:
    heads = heads.sort("invoice_id")
    n = heads.height
    pay = heads["day"].to_numpy() + 30 + rng.integers(-10, 26, size=n)
    paid = (heads["void_day"].to_numpy() < 0) & (pay < n_days)
    return heads.with_columns(
        paid_day=pl.Series(np.where(paid, pay, -1)),
        status=pl.Series(np.where(heads["void_day"].to_numpy() >= 0, "Voided", np.where(paid, "Paid In Full", "Open"))),
    )


def _number_lines(cfg, com: Commercial, heads: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Lines onto every invoice of their (project, run), re-issues included; tax by service date;
    numbered in order of (service date, item, source id)."""
    out = lines.join(
        heads.select("project_id", "cycle", "invoice_id", "tax_code", "project_code"), on=["project_id", "cycle"]
    )
    tax = com.tax_codes.select(
        "tax_code", _d=(pl.col("eff_from") - pl.lit(cfg.start_date)).dt.total_days().cast(pl.Int64), tax_bp="rate_bp"
    ).sort("_d")
    out = (
        out.with_columns(_d=pl.col("service_day").cast(pl.Int64))
        .sort("_d")
        .join_asof(tax, on="_d", by="tax_code", strategy="backward", check_sortedness=False)
    )
    out = out.with_columns(amount_cents=amount_cents(pl.col("quantity_cents"), pl.col("rate_e4")))
    out = out.with_columns(tax_cents=tax_cents(pl.col("amount_cents"), pl.col("tax_bp")))
    return (
        out.sort(["invoice_id", "service_day", "item", "source_id"])
        .with_columns(line=pl.int_range(1, pl.len() + 1).over("invoice_id"))
        .drop("_d")
    )
