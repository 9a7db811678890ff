"""Payroll: monthly pay periods with lock dates, and hours paid to contingent workers."""

from __future__ import annotations

import numpy as np
import polars as pl

from estate.calendar import offsets_to_dates
from estate.config import EstateConfig, month_start
from estate.jsonfmt import write_csv
from estate.money import fmt_fixed, quantity_cents
from estate.people import People
from estate.reference import ENTITIES
from estate.work import DAY, Work

LOCK_AFTER_DAYS = 10


def pay_periods(cfg: EstateConfig) -> pl.DataFrame:
    rows = []
    for k in range(cfg.months):
        s = (month_start(cfg.start_date, k) - cfg.start_date).days
        e = (month_start(cfg.start_date, k + 1) - cfg.start_date).days - 1
        first = month_start(cfg.start_date, k)
        for i, ent in enumerate(ENTITIES):
            rows.append((i, ent.code, f"{ent.code}-{first.year}-{first.month:02d}", s, e, e + LOCK_AFTER_DAYS))
    return pl.DataFrame(
        rows, schema=["entity", "Company", "Period ID", "start_day", "end_day", "lock_day"], orient="row"
    )


def in_pay_period(entries: pl.DataFrame, periods: pl.DataFrame) -> pl.DataFrame:
    """Each entry (with its worker's ``entity`` and its work ``day``) with the columns of the pay period of that
    entity containing the day; entries in no period are dropped. Periods do not overlap, so this is an as-of join
    on the day, not a join on the entity that would repeat every entry once per period."""
    return (
        entries.with_columns(pl.col("day").cast(pl.Int64), pl.col("entity").cast(pl.Int64))
        .sort("day")
        .join_asof(
            periods.with_columns(pl.col("start_day").cast(pl.Int64), pl.col("entity").cast(pl.Int64)).sort("start_day"),
            left_on="day",
            right_on="start_day",
            by="entity",
            strategy="backward",
            check_sortedness=False,  # sorted above; polars cannot check it per group
        )
        .filter(pl.col("start_day").is_not_null() & (pl.col("day") <= pl.col("end_day")))
    )


def write_payroll(
    cfg: EstateConfig, people: People, work: Work, periods: pl.DataFrame, n_days: int, late_ids: list[int], truth: dict
) -> None:
    out = periods.select(
        "Company",
        "Period ID",
        offsets_to_dates(pl.col("start_day"), cfg.start_date).dt.strftime("%Y-%m-%d").alias("Start Date"),
        offsets_to_dates(pl.col("end_day"), cfg.start_date).dt.strftime("%Y-%m-%d").alias("End Date"),
        offsets_to_dates(pl.col("lock_day"), cfg.start_date).dt.strftime("%Y-%m-%d").alias("Lock Date"),
    )
    write_csv(cfg.landing / "payroll" / "pay_periods.csv", out)

    ids = people.employee_ids()
    workers = pl.DataFrame(
        {
            "worker": np.arange(people.n, dtype=np.int32),
            "Employee ID": ids,
            "entity": people.entity,
            "rate_cents": people.cost0_cents,
            "Currency": np.array([e.currency for e in ENTITIES])[people.entity],
        }
    ).filter(pl.Series(people.contingent))
    live = (
        work.entries.select("worker", "day", "minutes", "status", "approved_sec", "deleted_sec")
        .filter((pl.col("status") == "approved") & (pl.col("deleted_sec") < 0))
        .join(workers, on="worker")
    )
    inp = in_pay_period(live, periods.filter(pl.col("lock_day") < n_days))
    inp = inp.with_columns(late=pl.col("approved_sec") >= (pl.col("lock_day") + 1) * DAY)
    agg = (
        inp.group_by("Period ID", "Employee ID")
        .agg(
            paid_min=pl.col("minutes").filter(~pl.col("late")).sum(),
            all_min=pl.col("minutes").sum(),
            late=pl.col("late").sum(),
            rate_cents=pl.col("rate_cents").first(),
            Currency=pl.col("Currency").first(),
        )
        .sort("Period ID", "Employee ID")
    )
    for (pid,), part in agg.group_by(["Period ID"], maintain_order=True):
        write_csv(
            cfg.landing / "payroll" / f"contractor_hours_{pid}.csv",
            part.select(
                "Period ID",
                "Employee ID",
                fmt_fixed(quantity_cents(pl.col("paid_min")), 2).alias("Hours Paid"),
                fmt_fixed(pl.col("rate_cents"), 2).alias("Hourly Pay Rate"),
                "Currency",
            ),
        )
    truth["contractor_hours"] = [
        {
            "period_id": r["Period ID"],
            "employee_id": r["Employee ID"],
            "late_approvals": int(r["late"]),
            "hours_paid": _h(r["paid_min"]),
            "approved_hours": _h(r["all_min"]),
            "difference": _h(r["all_min"] - r["paid_min"]),
        }
        for r in agg.filter(pl.col("late") > 0).iter_rows(named=True)
    ]
    truth["late_approval_entries"] = sorted(late_ids)


def _h(minutes: int) -> str:
    c = int(quantity_cents(np.array([minutes]))[0])
    return f"{c // 100}.{c % 100:02d}"
