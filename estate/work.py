"""PSA activity: assignments, daily time entries, milestones and expenses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from estate.calendar import holiday_matrix, weekdays
from estate.commercial import Commercial
from estate.config import EstateConfig
from estate.people import People, time_off
from estate.reference import ENTITIES, EXPENSE_CATEGORIES, ROLE_NAMES, TASK_CODES

DAY = 86_400


@dataclass
class Work:
    assignments: pl.DataFrame
    entries: pl.DataFrame
    time_off: pl.DataFrame
    milestones: pl.DataFrame
    expenses: pl.DataFrame


def _segments(rng, n: int, n_days: int):
    """Consecutive staffing segments per worker: [n, k] start offsets (first one at or before day 0)."""
    k = n_days // 40 + 3
    lengths = rng.integers(40, 180, size=(n, k))
    first = -rng.integers(0, 90, size=(n, 1))
    starts = np.concatenate([first, first + np.cumsum(lengths, axis=1)[:, :-1]], axis=1)
    return starts


def _segment_of(starts: np.ndarray, who: np.ndarray, day: np.ndarray) -> np.ndarray:
    n, k = starts.shape
    big = 1 << 32
    flat = (np.arange(n, dtype=np.int64)[:, None] * big + (starts + (1 << 20))).ravel()
    q = who.astype(np.int64) * big + (day.astype(np.int64) + (1 << 20))
    return np.searchsorted(flat, q, side="right") - 1 - who.astype(np.int64) * k


def _pick_projects(rng, people: People, com: Commercial, seg_worker, seg_start) -> np.ndarray:
    """A project for each segment: mostly one of the worker's entity, started by the segment start."""
    projects = com.projects
    p_entity = projects["entity"].to_numpy()
    p_start = projects["start_day"].to_numpy()
    p_id = projects["project_id"].to_numpy()
    ent = people.entity[seg_worker].copy()
    cross = rng.random(len(ent)) < 0.15
    ent[cross] = rng.integers(0, len(ENTITIES), size=int(cross.sum()))
    out = np.zeros(len(ent), dtype=np.int64)
    for e in range(len(ENTITIES)):
        sel = np.flatnonzero(ent == e)
        order = np.argsort(p_start[p_entity == e], kind="stable")
        starts_e = p_start[p_entity == e][order]
        ids_e = p_id[p_entity == e][order]
        count = np.searchsorted(starts_e, np.maximum(seg_start[sel], 0), side="right")
        count = np.maximum(count, 1)
        out[sel] = ids_e[(rng.random(len(sel)) * count).astype(np.int64)]
    return out


ENTRY_STATUSES = pl.Enum(["draft", "submitted", "rejected", "approved"])
NOTES = pl.Enum(["client workshop"])  # codes, not a string per entry: the PSA load writes them as text


def make_work(cfg: EstateConfig, people: People, com: Commercial, n_days: int) -> Work:
    rng = np.random.default_rng([cfg.seed, 5])
    n = people.n
    wd = weekdays(cfg.start_date, n_days)
    hol = holiday_matrix(cfg.start_date, n_days)
    days = np.arange(n_days)
    employed = (days[None, :] >= people.hire[:, None]) & (days[None, :] <= people.term[:, None])
    workable = employed & (wd[None, :] < 5) & ~hol[people.entity]
    off = time_off(cfg, people, workable)
    grid = workable.copy()
    full_off = off.filter(
        pl.col("minutes") == people.weekly_on(off["day"].to_numpy(), off["worker"].to_numpy()) * 60 // 5
    )
    grid[full_off["worker"].to_numpy(), full_off["day"].to_numpy()] = False
    weekend_work = employed & (wd[None, :] >= 5) & (rng.random((n, n_days)) < 0.004)
    grid |= weekend_work
    who, day = np.nonzero(grid)  # row-major: sorted by worker, then day
    del grid, employed, workable, weekend_work

    # staffing segments -> project and billed role
    starts = _segments(rng, n, n_days)
    k = starts.shape[1]
    seg_local = _segment_of(starts, who, day)
    seg = who.astype(np.int64) * k + seg_local
    seg_worker = np.repeat(np.arange(n), k)
    seg_start = starts.ravel()
    seg_end = np.concatenate([starts[:, 1:], starts[:, -1:] + 180], axis=1).ravel() - 1
    seg_project = _pick_projects(rng, people, com, seg_worker, seg_start)
    shift = rng.choice([0, 0, 0, 0, 0, 0, 1, -1], size=n * k)
    seg_role = np.clip(people.role0[seg_worker] + shift, 0, len(ROLE_NAMES) - 1)

    project = seg_project[seg]
    role = seg_role[seg]
    # ad-hoc time on a project without an assignment: the role falls back to the resource's role
    p = com.projects
    old_ids = p.filter(pl.col("start_day") <= -30).sort("project_id")
    adhoc = rng.random(len(who)) < 0.01
    if adhoc.any() and old_ids.height:
        ent_of = old_ids["entity"].to_numpy()
        ids_of = old_ids["project_id"].to_numpy()
        for e in range(len(ENTITIES)):
            cand = ids_of[ent_of == e]
            sel = np.flatnonzero(adhoc & (people.entity[who] == e))
            if len(cand) and len(sel):
                new = cand[rng.integers(0, len(cand), size=len(sel))]
                moved = new != project[sel]
                project[sel[moved]] = new[moved]
                role[sel[moved]] = people.role0[who[sel[moved]]]
    has_assignment = project == seg_project[seg]

    # minutes: the scheduled day, give or take; half days off log half a day
    daily = people.weekly_on(day, who) * 60 // 5
    minutes = daily + rng.choice([-60, -30, 0, 0, 0, 0, 0, 30, 60], size=len(who))
    half = off.filter(pl.col("minutes") < people.weekly_on(off["day"].to_numpy(), off["worker"].to_numpy()) * 60 // 5)
    half_key = set((half["worker"].to_numpy().astype(np.int64) * n_days + half["day"].to_numpy()).tolist())
    if half_key:
        is_half = np.isin(who.astype(np.int64) * n_days + day, np.fromiter(half_key, dtype=np.int64))
        minutes = np.where(is_half, daily // 2, minutes)
    minutes = np.maximum(minutes, 30)

    ptype = p["billing_type"].to_numpy()[project - 1]
    billable = np.where(ptype == "tm", rng.random(len(who)) >= 0.03, ptype == "fixed_fee")

    # lifecycle: submitted within days, approved hours to days later; a few rejections
    sub = (
        day * DAY
        + 17 * 3600
        + rng.choice([0, 0, 0, 1, 1, 2, 3], size=len(who)) * DAY
        + rng.integers(0, 10800, size=len(who))
    )
    appr = sub + rng.integers(3600, 5 * DAY, size=len(who))
    rejected = rng.random(len(who)) < 0.007
    end_sec = n_days * DAY - 1
    # 0 draft, 1 submitted, 2 rejected, 3 approved: small codes, not 9 M numpy strings at L
    status = np.where(sub > end_sec, 0, np.where(appr > end_sec, 1, np.where(rejected, 2, 3))).astype(np.int8)
    managers = people.manager[who]
    unsorted = pl.DataFrame(
        {
            "worker": who.astype(np.int32),
            "day": day.astype(np.int32),
            "project_id": project,
            "role": role.astype(np.int8),
            "has_assignment": has_assignment,
            "minutes": minutes.astype(np.int32),
            "billable": billable,
            "task_code": pl.Series(TASK_CODES, dtype=pl.Enum(TASK_CODES)).gather(
                rng.integers(0, len(TASK_CODES), size=len(who))
            ),
            "submitted_sec": np.where(status == 0, -1, sub),
            "approved_sec": np.where(status == 3, appr, -1),
            "rejected_sec": np.where(status == 2, appr, -1),
            "status": pl.Series(ENTRY_STATUSES.categories, dtype=ENTRY_STATUSES).gather(status),
            "approver": np.where(managers >= 0, managers + 1, -1),
            "revision": np.ones(len(who), dtype=np.int32),
            "deleted_sec": np.full(len(who), -1, dtype=np.int64),
            "_note": rng.random(len(who)) < 0.05,
        }
    )
    # the per-entry arrays are in the frame now: free them before it is sorted (at L each is 70 MB or more)
    del who, day, project, role, has_assignment, minutes, billable, sub, appr, rejected, status, managers, daily
    frame = (
        unsorted.with_columns(
            notes=pl.when(pl.col("_note")).then(pl.lit("client workshop", NOTES)).otherwise(pl.lit(None, NOTES))
        )
        .drop("_note")
        .sort(["day", "worker"])
        .with_row_index("time_entry_id", offset=1)
        .with_columns(
            pl.col("time_entry_id").cast(pl.Int64),
            updated_sec=pl.max_horizontal(
                "submitted_sec", "approved_sec", "rejected_sec", pl.col("day").cast(pl.Int64) * DAY + 18 * 3600
            ),
        )
    )

    del unsorted, adhoc, seg_local
    used = np.unique(seg)
    assignments = (
        pl.DataFrame(
            {
                "seg": used,
                "resource_id": seg_worker[used] + 1,
                "project_id": seg_project[used],
                "role": np.array(ROLE_NAMES)[seg_role[used]],
                "start_day": np.maximum(seg_start[used], people.hire[seg_worker[used]]),
                "end_day": np.minimum(seg_end[used], people.term[seg_worker[used]]),
                "hours_per_week": people.weekly0[seg_worker[used]],
            }
        )
        .sort(["start_day", "resource_id"])
        .with_row_index("assignment_id", offset=1)
        .drop("seg")
    )

    milestones = _milestones(cfg, rng, com, n_days)
    expenses = _expenses(cfg, rng, people, frame, p, n_days)
    return Work(assignments, frame, off, milestones, expenses)


def _milestones(cfg, rng, com: Commercial, n_days: int) -> pl.DataFrame:
    ff = com.projects.filter(pl.col("billing_type") == "fixed_fee")
    rows = []
    for pid, start_day, currency in ff.select("project_id", "start_day", "currency").iter_rows():
        due = max(start_day, 0)
        for k in range(4):
            due += int(rng.integers(40, 110))
            if due >= n_days + 60:
                break
            amount = int(rng.integers(200, 1500)) * 10_000
            lag = int(rng.integers(0, 10))
            cancelled = rng.random() < 0.03
            accepted = (not cancelled) and due + lag < n_days
            acc_sec = (due + lag) * DAY + 15 * 3600 if accepted else -1
            rows.append(
                (
                    pid,
                    f"Milestone {k + 1}",
                    amount,
                    currency,
                    due,
                    "cancelled" if cancelled else ("accepted" if accepted else "open"),
                    acc_sec,
                )
            )
    schema = {
        "project_id": pl.Int64,
        "name": pl.Utf8,
        "amount_cents": pl.Int64,
        "currency": pl.Utf8,
        "due_day": pl.Int64,
        "status": pl.Utf8,
        "accepted_sec": pl.Int64,
    }
    return (
        pl.DataFrame(rows, schema=schema, orient="row")
        .with_row_index("milestone_id", offset=1)
        .with_columns(pl.col("milestone_id").cast(pl.Int64))
    )


def _expenses(cfg, rng, people: People, entries: pl.DataFrame, projects: pl.DataFrame, n_days: int) -> pl.DataFrame:
    k = min(int(people.n * cfg.months * 0.4), entries.height)
    pick = np.sort(rng.choice(entries.height, size=k, replace=False))
    src = entries[pick].select("worker", "day", "project_id")
    ptype = projects["billing_type"].to_numpy()[src["project_id"].to_numpy() - 1]
    worker = src["worker"].to_numpy()
    day = src["day"].to_numpy()
    billable = np.where(ptype == "tm", rng.random(k) < 0.9, np.where(ptype == "fixed_fee", rng.random(k) < 0.5, False))
    appr = day.astype(np.int64) * DAY + rng.integers(1, 7, size=k) * DAY + 10 * 3600
    roll = rng.random(k)
    status = np.where(roll < 0.04, "rejected", np.where(appr > n_days * DAY - 1, "submitted", "approved"))
    deleted = (status == "approved") & (rng.random(k) < 0.01)
    return (
        pl.DataFrame(
            {
                "resource_id": worker + 1,
                "project_id": src["project_id"],
                "day": day,
                "category": np.array(EXPENSE_CATEGORIES)[rng.integers(0, len(EXPENSE_CATEGORIES), size=k)],
                "amount_cents": rng.integers(1500, 60000, size=k),
                "currency": np.array([e.currency for e in ENTITIES])[people.entity[worker]],
                "billable": billable,
                "status": status,
                "approved_sec": np.where(status == "approved", appr, -1),
                "deleted_sec": np.where(deleted, appr + 3600, -1),
            }
        )
        .sort(["day", "resource_id"])
        .with_row_index("expense_id", offset=1)
        .with_columns(pl.col("expense_id").cast(pl.Int64))
    )
