"""HR: Workday-style report drops, full worker snapshots, time off and public holidays."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from estate.calendar import holidays_frame, offsets_to_dates
from estate.config import EstateConfig
from estate.jsonfmt import report_json, write_text
from estate.money import fmt_fixed, quantity_cents
from estate.people import NEVER, People, cost_center
from estate.reference import ENTITIES, PRACTICES, ROLE_NAMES


def _fmt_day(cfg: EstateConfig, days: np.ndarray) -> pl.Series:
    """Day offsets as YYYY-MM-DD; "" where the day is unknown or never."""
    known = (days > -(10**5)) & (days < NEVER)
    text = offsets_to_dates(np.where(known, days, 0), cfg.start_date).dt.strftime("%Y-%m-%d")
    return pl.select(pl.when(pl.Series(known)).then(text).otherwise(pl.lit(""))).to_series()


def _pick(labels, index: np.ndarray) -> pl.Series:
    """``labels[index]`` as a polars string column (numpy unicode arrays are slow to hand over)."""
    return pl.Series(list(labels), dtype=pl.Utf8).gather(np.asarray(index, dtype=np.int64))


def _workers(cfg: EstateConfig, people: People) -> pl.DataFrame:
    """What HR reports of a worker that does not change over the horizon."""
    ids = people.employee_ids()
    return pl.DataFrame(
        {
            "Employee_ID": ids,
            "Worker_Name": [f"Worker {i + 1:06d}" for i in range(people.n)],
            "Worker_Type": _pick(["Regular", "Contingent Worker"], people.contingent.astype(np.int64)),
            "Hire_Date": _fmt_day(cfg, people.hire),
            "Company": _pick([e.code for e in ENTITIES], people.entity),
            "Country": _pick([e.country for e in ENTITIES], people.entity),
            "Cost_Rate_Currency": _pick([e.currency for e in ENTITIES], people.entity),
            "Skills": people.skills,
            "Manager_ID": np.where(people.manager >= 0, ids[np.maximum(people.manager, 0)], ""),
        }
    )


def snapshot(cfg: EstateConfig, people: People, snap: int, last: bool, workers: pl.DataFrame) -> pl.DataFrame:
    """Workers as HR reports them on snapshot day ``snap`` (``workers``: their unchanging attributes)."""
    term_known = people.hr_term if (last and people.hr_term is not None) else people.term
    shown_term = np.where(term_known <= snap + 14, term_known, NEVER)
    present = (people.hire <= snap) & ~(people.term + 60 < snap)
    practice = people.practice_on(snap)
    cc, cc_name = cost_center(people.entity, practice)
    weekly = np.where(snap >= people.hours_day, people.weekly1, people.weekly0)
    df = workers.with_columns(
        Termination_Date=_fmt_day(cfg, shown_term),
        Cost_Center=pl.Series(cc),
        Cost_Center_Name=pl.Series(cc_name),
        Job_Profile=_pick(ROLE_NAMES, people.role_on(snap)),
        Practice=_pick(PRACTICES, practice),
        Scheduled_Weekly_Hours=pl.Series(weekly).cast(pl.Utf8),
        Hourly_Cost_Rate=pl.Series(people.cost_on(snap)).to_frame("c").select(fmt_fixed(pl.col("c"), 2)).to_series(),
    ).select(
        "Employee_ID",
        "Worker_Name",
        "Worker_Type",
        "Hire_Date",
        "Termination_Date",
        "Company",
        "Cost_Center",
        "Cost_Center_Name",
        "Country",
        "Job_Profile",
        "Practice",
        "Scheduled_Weekly_Hours",
        "Hourly_Cost_Rate",
        "Cost_Rate_Currency",
        "Skills",
        "Manager_ID",
    )
    return df.filter(pl.Series(present))


def write_hr(cfg: EstateConfig, people: People, time_off: pl.DataFrame, truth: dict) -> None:
    hr = cfg.landing / "hr"
    snaps = list(people.snapshot_days)
    ids = people.employee_ids()
    off = time_off.join(
        pl.DataFrame({"worker": np.arange(people.n), "Employee_ID": ids}).cast({"worker": time_off["worker"].dtype}),
        on="worker",
    )
    off = off.with_columns(
        Date=offsets_to_dates(pl.col("day"), cfg.start_date).dt.strftime("%Y-%m-%d"),
        Hours=fmt_fixed(quantity_cents(pl.col("minutes")), 2),
        Type=pl.col("type"),
    ).sort(["day", "Employee_ID"])
    workers = _workers(cfg, people)
    for i, snap in enumerate(snaps):
        day = cfg.start_date + timedelta(days=int(snap))
        report = snapshot(cfg, people, snap, i == len(snaps) - 1, workers)
        write_text(hr / f"workers_{day.isoformat()}.json", report_json(report))
        jan1 = (day.replace(month=1, day=1) - cfg.start_date).days
        part = off.filter((pl.col("day") >= jan1) & (pl.col("day") <= snap)).select(
            "Employee_ID", "Date", "Hours", "Type"
        )
        write_text(hr / f"time_off_{day.isoformat()}.json", report_json(part))
    hol = holidays_frame(cfg.start_date, cfg.end_date)
    for (year,), part in hol.group_by(["year"], maintain_order=True):
        write_text(hr / f"holidays_{year}.json", report_json(part.drop("year")))

    # the HR changes the type-2 history must reproduce, effective from the snapshot that first shows them
    changes = []
    for name, days, old, new in (
        (
            "Hourly_Cost_Rate",
            people.raise_day,
            people.cost0_cents,
            np.round(people.cost0_cents * (1 + people.raise_pct)),
        ),
        ("Practice", people.transfer_day, people.practice0, people.practice1),
        ("Scheduled_Weekly_Hours", people.hours_day, people.weekly0, people.weekly1),
        ("Job_Profile", people.promo_day, people.role0, np.minimum(people.role0 + 1, len(ROLE_NAMES) - 1)),
    ):
        for w in np.flatnonzero(days < NEVER):
            o, n = _label(name, old[w]), _label(name, new[w])
            changes.append(
                {
                    "employee_id": ids[w],
                    "field": name,
                    "old": o,
                    "new": n,
                    "effective": (cfg.start_date + timedelta(days=int(days[w]))).isoformat(),
                }
            )
    truth["hr_changes"] = sorted(changes, key=lambda c: (c["employee_id"], c["field"]))


def _label(name: str, v) -> str:
    if name == "Hourly_Cost_Rate":
        v = int(v)
        return f"{v // 100}.{v % 100:02d}"
    if name == "Practice":
        return PRACTICES[int(v)]
    if name == "Job_Profile":
        return ROLE_NAMES[int(v)]
    return str(int(v))
