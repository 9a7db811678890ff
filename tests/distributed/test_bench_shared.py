"""`make bench` measures the nightly on the shared warehouse against the embedded file (issue #18): both modes run
to the end on the same estate, on the shared venv's DuckDB, and the catalog database a shared run creates is gone
afterwards."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.render import _shared_lines
from benchmarks.run import shared_comparison
from tests.conftest import PG_URL


def _bench_databases() -> set[str]:
    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as c:
            return {
                n for (n,) in c.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'pssync_bench_%'"))
            }
    finally:
        engine.dispose()


@pytest.mark.many_runs  # two whole nightlies, one per mode (about 50 s)
def test_the_shared_comparison_runs_both_modes_on_one_estate_and_leaves_no_catalog_behind(estate, tmp_path):
    as_of = json.loads((estate / "_truth" / "manifest.json").read_text())["as_of"]
    before = _bench_databases()
    measured = shared_comparison("S", estate, as_of, tmp_path, python=Path(sys.executable))

    embedded, shared = measured["embedded_nightly"], measured["shared_nightly"]
    assert embedded["duckdb"].startswith("1.5") and shared["duckdb"] == embedded["duckdb"]
    assert embedded["raw_time_entries"] > 0 and embedded["warehouse_bytes"] > 0
    assert shared["lake_bytes"] > 0, "the shared run wrote its tables as data files of the lake"
    assert shared["stages"]["recon"] > 0 and shared["stages"]["billing"] > 0
    assert _bench_databases() == before, "each shared run drops the catalog database it created"
    assert not list(tmp_path.iterdir()), "each run's warehouse and output are removed after it"

    [row] = [
        ln for ln in _shared_lines([{"size": "S", "measured_at": "", "shared": measured}]) if ln.startswith("| S ")
    ]
    assert f"{shared['wall_seconds'] / embedded['wall_seconds']:.2f}x" in row
