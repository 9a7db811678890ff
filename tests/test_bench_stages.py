"""`make bench` runs each stage in its own process; every stage must still run (the floor once broke silently)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

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


@pytest.mark.long
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
    from benchmarks.render import _shared_lines
    from benchmarks.run import shared_comparison

    measured = shared_comparison("M", tmp_path / "landing", "2026-09-30", tmp_path, python=tmp_path / "no-python")
    assert measured == {"skipped": f"no {tmp_path / 'no-python'}: `make .venv-shared/.installed` first"}
    lines = _shared_lines([{"size": "M", "measured_at": "", "shared": measured}])
    assert lines[-1] == f"Not measured: M: {measured['skipped']}."


def test_measuring_the_shared_comparison_alone_keeps_every_other_stored_figure(tmp_path, monkeypatch):
    """`--shared only` replaces the stored comparison and nothing else (the generator's median of three included);
    `--shared without` measures the rest again and keeps the stored comparison. The stages are stood in for: what
    is checked is which figures the result file keeps."""
    from benchmarks import run

    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    run.RESULTS.mkdir()
    stored = {"size": "M", "generate": {"wall_seconds": 9.0, "runs_wall_seconds": [9.0, 9.5, 8.8]}, "floor": {"x": 1}}
    (run.RESULTS / "M.json").write_text(json.dumps({**stored, "shared": {"skipped": "old"}}))
    generated = {"time_entries": 7, "as_of": "2026-09-30", "wall_seconds": 1.0, "peak_rss_mb": 1}

    def stage(name, root, *args, **kw):
        if name != "generate":
            raise RuntimeError(f"{name}: not run in this test")
        return generated

    monkeypatch.setattr(run, "stage", stage)
    monkeypatch.setattr(run, "shared_comparison", lambda *a, **kw: {"skipped": "new"})
    only = run.run_size("M", tmp_path / "work", True, shared="only", operation_days=0)
    assert only == {**stored, "shared": {"skipped": "new"}}
    assert json.loads((run.RESULTS / "M.json").read_text()) == only

    without = run.run_size("M", tmp_path / "work", True, shared="without", operation_days=0)
    assert without["shared"] == {"skipped": "new"} and "floor" not in without
    assert without["generate"]["runs_wall_seconds"] == [1.0, 1.0, 1.0]
