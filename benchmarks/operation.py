"""The operation scenario of `make bench`: consecutive business days after the estate's end, each with hourly syncs
and the nightly sync, recording the warehouse's size per day, the wall time of every run, and the hourly wall time
against the size of the change.

A day D: the first hourly sync of D (the date's first run: recomputed whole), then three hourly syncs after 10
edited entries, after 1,000, and after the rest of a business day's changes (every waiting entry approved, an edit
in every 997 recent entries, a day of new entries submitted); then the nightly sync of D (extract everything,
recon, billing, marts) and the warehouse file measured. Each run goes through Dagster in process, as
`pssync run` does.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
from datetime import date, timedelta
from pathlib import Path

CHANGE_SIZES = (10, 1000)


def edit_entries(root: Path, day: date, hour: int, k: int, rng: random.Random) -> int:
    """``k`` approved entries of the last 60 days edited (a quarter hour more, next revision) at ``hour`` of ``day``."""
    stamp = f"{day} {hour:02d}:00:00.000000"
    db = sqlite3.connect(root / "landing" / "psa" / "psa.db")
    try:
        ids = [
            r[0]
            for r in db.execute(
                "SELECT time_entry_id FROM time_entries WHERE status = 'approved' AND deleted_at IS NULL "
                "AND date_performed >= ?",
                (str(day - timedelta(days=60)),),
            ).fetchall()
        ]
        chosen = rng.sample(ids, min(k, len(ids)))
        db.executemany(
            "UPDATE time_entries SET time_in_minutes = time_in_minutes + 15, revision = revision + 1, updated_at = ? "
            "WHERE time_entry_id = ?",
            [(stamp, i) for i in chosen],
        )
        db.commit()
    finally:
        db.close()
    return len(chosen)


def warehouse_bytes(root: Path) -> int:
    """The warehouse on disk: its file and any write-ahead log beside it."""
    base = root / "warehouse.duckdb"
    return sum(p.stat().st_size for p in (base, Path(f"{base}.wal")) if p.exists())


def _run(day: date, job: str) -> dict:
    from benchmarks.stage import timed_run

    run = timed_run(day, job)
    stages = run["stages"]
    return {
        "wall_seconds": run["run_seconds"],
        "recon_seconds": stages["slowest_steps"].get("recon__time_to_bill") or round(stages.get("recon", 0), 2),
        "recon_stage_seconds": stages.get("recon"),
        "recomputed": run["recomputed"],
        "slowest_steps": stages["slowest_steps"],
    }


def operate(root: Path, as_of: str, days: int) -> dict:
    """``days`` business days after ``as_of`` (the nightly of ``as_of`` has run); one JSON line per day on stderr."""
    from benchmarks.stage import _env, one_day_of_changes

    _env(root)
    rng = random.Random(7)
    start = date.fromisoformat(as_of)
    out = {"first_night_bytes": warehouse_bytes(root), "days": []}
    for i in range(1, days + 1):
        day = start + timedelta(days=i)
        record = {"day": day.isoformat(), "hourly": []}
        record["hourly"].append({"changed": 0, **_run(day, "hourly_sync")})
        for hour, k in zip((10, 11), CHANGE_SIZES):
            changed = edit_entries(root, day, hour, k, rng)
            record["hourly"].append({"changed": changed, **_run(day, "hourly_sync")})
        changed = one_day_of_changes(root, (day - timedelta(days=1)).isoformat(), hour=17)
        record["hourly"].append({"changed": changed, "one_day": True, **_run(day, "hourly_sync")})
        record["nightly"] = _run(day, "nightly_sync")
        record["warehouse_bytes"] = warehouse_bytes(root)
        out["days"].append(record)
        print(json.dumps(record), file=sys.stderr, flush=True)
    return out
