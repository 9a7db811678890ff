"""The generator works at every small size a newcomer tries, and the pipeline agrees with its ground truth there."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from estate import EstateConfig, generate_estate
from tests.helpers import materialize_as_of

GRID = [(1, 1), (2, 2), (3, 2), (5, 1), (5, 2), (5, 3), (5, 6), (10, 1), (10, 2), (20, 1), (20, 3)]


def test_every_small_size_generates_an_estate(tmp_path):
    for employees, months in GRID:
        landing = tmp_path / f"{employees}x{months}"
        m = generate_estate(EstateConfig(out=landing, employees=employees, months=months, seed=3, progress=False))
        assert m["estate"]["employees"] == employees
        assert (landing / "psa" / "psa.db").exists() and list(landing.glob("crm/*/Account-00001.json"))


@pytest.mark.parametrize("employees,months", [(1, 1), (5, 2)])
def test_a_tiny_estate_reconciles_to_its_ground_truth(tmp_path, employees, months):
    landing = tmp_path / "landing"
    m = generate_estate(EstateConfig(out=landing, employees=employees, months=months, seed=3, progress=False))
    wh = tmp_path / "wh.duckdb"
    assert materialize_as_of(landing, wh, m["as_of"]).success
    con = duckdb.connect(str(wh), read_only=True)
    got = con.sql(
        "SELECT time_entry_id, recon_status AS status, coalesce(reason, '') AS reason "
        "FROM recon.time_to_bill ORDER BY 1"
    ).pl()
    con.close()
    expected = (
        pl.read_parquet(landing / "_truth" / "time_to_bill_expected.parquet")
        .select("time_entry_id", "status", pl.col("reason").fill_null(""))
        .sort("time_entry_id")
    )
    assert got.height > 0 and got.equals(expected)
