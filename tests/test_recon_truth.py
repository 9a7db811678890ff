"""Reconciliation on generated estates equals the ground-truth manifest exactly."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import polars as pl
import pytest

from estate import EstateConfig, generate_estate
from tests.helpers import materialize_as_of

ESTATES = [
    dict(employees=80, months=4, seed=7, anomaly_rate=0.01),
    dict(employees=150, months=6, seed=11, anomaly_rate=0.01),
    dict(employees=60, months=3, seed=23, anomaly_rate=0.04),
]


@pytest.mark.parametrize("params", ESTATES, ids=lambda p: f"{p['employees']}x{p['months']}-seed{p['seed']}")
def test_statuses_and_reasons_equal_the_ground_truth(tmp_path, params):
    landing = tmp_path / "landing"
    m = generate_estate(EstateConfig(out=landing, progress=False, **params))
    wh = tmp_path / "wh.duckdb"
    result = materialize_as_of(landing, wh, m["as_of"])
    assert result.success
    con = duckdb.connect(str(wh), read_only=True)
    got = con.sql("SELECT time_entry_id, recon_status AS status, reason, owner FROM recon.time_to_bill").pl()
    expected = pl.read_parquet(landing / "_truth" / "time_to_bill_expected.parquet").select(
        "time_entry_id", "status", "reason", "owner"
    )
    diff = got.join(expected, on="time_entry_id", how="full", suffix="_truth", nulls_equal=True).filter(
        (pl.col("status") != pl.col("status_truth")).fill_null(True)
        | (pl.col("reason").fill_null("") != pl.col("reason_truth").fill_null(""))
        | (pl.col("owner").fill_null("") != pl.col("owner_truth").fill_null(""))
    )
    assert diff.height == 0, diff.head(20)
    # every injected case is found with its status, and no other entry is flagged
    flagged = set(
        con.execute("""SELECT time_entry_id, recon_status, coalesce(reason, '') FROM recon.time_to_bill
                                 WHERE owner IS NOT NULL OR reason IS NOT NULL""").fetchall()
    )
    assert flagged == {(c["time_entry_id"], c["recon_status"], c["reason"] or "") for c in m["time_entries"]}
    lines = set(con.execute("SELECT invoice_number, line, recon_status FROM recon.billing_line_exceptions").fetchall())
    assert lines == {(x["invoice_number"], x["line"], x["recon_status"]) for x in m["billing_line_exceptions"]}
    late = {
        (p, e): (n, d)
        for p, e, n, d in con.execute(
            "SELECT period_id, employee_id, late_approval_count, difference FROM recon.contractor_hours "
            "WHERE recon_status <> 'MATCHED'"
        ).fetchall()
    }
    assert late == {
        (c["period_id"], c["employee_id"]): (c["late_approvals"], Decimal(c["difference"]))
        for c in m["contractor_hours"]
    }
    con.close()
