"""`make bench` runs each stage in its own process; every stage must still run (the floor once broke silently)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def stage(name: str, root: Path, *args) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.stage", name, str(root), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, f"benchmark stage {name} failed: {out.stderr[-2000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_benchmark_stage_runs_and_the_floor_reproduces_the_pipelines_recon(tmp_path):
    gen = stage("generate", tmp_path, 20, 2)
    assert gen["time_entries"] > 0 and gen["as_of"] == "2026-09-30"
    nightly = stage("nightly", tmp_path, gen["as_of"])
    assert nightly["raw_time_entries"] == gen["time_entries"]
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    recon_rows = con.execute("SELECT count(*) FROM recon.time_to_bill WHERE as_of_date = ?", [gen["as_of"]]).fetchall()
    con.close()
    floor = stage("floor", tmp_path, gen["as_of"])
    assert floor["recon_rows"] == recon_rows[0][0] > 0, "the bare SQL gives the pipeline's rows"
    assert stage("pandas", tmp_path, gen["as_of"])["wall_seconds"] > 0
    hourly = stage("hourly", tmp_path, gen["as_of"])
    # the next date's first run computes it whole; the runs after a day of changes and after 10 edits do not
    assert hourly["first_run"]["recomputed"] == "whole date (no earlier run of this date)"
    assert "entries whose inputs changed" in hourly["recomputed"], hourly["recomputed"]
    assert "entries whose inputs changed" in hourly["ten_entries"]["recomputed"]
    day = (date.fromisoformat(gen["as_of"]) + timedelta(days=1)).isoformat()
    [operated] = stage("operation", tmp_path, day, 1)["days"]
    assert [h["changed"] for h in operated["hourly"][:2]] == [0, 10] and operated["hourly"][2]["changed"] > 10
    assert operated["nightly"]["wall_seconds"] > 0 and operated["warehouse_bytes"] > 0


def test_without_the_shared_venv_the_shared_comparison_says_what_to_install(tmp_path):
    from benchmarks.run import _shared_lines, shared_comparison

    measured = shared_comparison("M", tmp_path / "landing", "2026-09-30", tmp_path, python=tmp_path / "no-python")
    assert measured == {"skipped": f"no {tmp_path / 'no-python'}: `make .venv-shared/.installed` first"}
    lines = _shared_lines([{"size": "M", "measured_at": "", "shared": measured}])
    assert lines[-1] == f"Not measured: M: {measured['skipped']}."
