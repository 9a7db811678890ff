"""ops.exceptions over successive runs: first seen kept, text refreshed, resolved when gone, reopened on return."""

from __future__ import annotations

from datetime import datetime

import duckdb

from assets.ops.exceptions import record_exceptions
from resources.warehouse import sql_text

DAY1, DAY2, DAY3 = datetime(2026, 9, 28, 2), datetime(2026, 9, 29, 2), datetime(2026, 9, 30, 2)


def _state(con) -> dict:
    rows = con.execute(
        "SELECT record_key, rule, message, first_seen, last_seen, resolved_at FROM ops.exceptions "
        "WHERE object = 'time_to_bill'"
    ).fetchall()
    return {(k, r): (m, f, s, x) for k, r, m, f, s, x in rows}


def test_exceptions_keep_first_seen_refresh_their_text_resolve_and_reopen(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute(sql_text("ddl/ops"))
    other = ("7", "RATE_MISMATCH", "another object's exception", "finance", None, None)
    record_exceptions(con, "recon", "recon", "billing_line_exceptions", [other], DAY1, resolve_others=True)

    record_exceptions(
        con,
        "recon",
        "recon",
        "time_to_bill",
        [
            ("101", "UNBILLED", "time entry 101: 120.00 USD at risk", "finance", None, None),
            ("102", "INELIGIBLE:UNMAPPED_EMPLOYEE", "time entry 102", "hr", None, None),
        ],
        DAY1,
        resolve_others=True,
    )
    record_exceptions(
        con,
        "recon",
        "recon",
        "time_to_bill",
        [("101", "UNBILLED", "time entry 101: 180.00 USD at risk", "finance", None, None)],
        DAY2,
        resolve_others=True,
    )
    s = _state(con)
    assert s[("101", "UNBILLED")] == ("time entry 101: 180.00 USD at risk", DAY1, DAY2, None)
    assert s[("102", "INELIGIBLE:UNMAPPED_EMPLOYEE")] == ("time entry 102", DAY1, DAY1, DAY2)  # resolved, not deleted

    record_exceptions(
        con,
        "recon",
        "recon",
        "time_to_bill",
        [("102", "INELIGIBLE:UNMAPPED_EMPLOYEE", "time entry 102", "hr", None, None)],
        DAY3,
        resolve_others=True,
    )
    s = _state(con)
    assert s[("102", "INELIGIBLE:UNMAPPED_EMPLOYEE")] == ("time entry 102", DAY1, DAY3, None)  # reopened
    assert s[("101", "UNBILLED")][3] == DAY3
    # another object's exceptions are untouched by this object's runs
    assert con.execute(
        "SELECT resolved_at, last_seen FROM ops.exceptions WHERE object = 'billing_line_exceptions'"
    ).fetchall() == [(None, DAY1)]
    # running the same day twice changes nothing
    before = con.execute("SELECT * FROM ops.exceptions ORDER BY ALL").fetchall()
    record_exceptions(
        con,
        "recon",
        "recon",
        "time_to_bill",
        [("102", "INELIGIBLE:UNMAPPED_EMPLOYEE", "time entry 102", "hr", None, None)],
        DAY3,
        resolve_others=True,
    )
    assert con.execute("SELECT * FROM ops.exceptions ORDER BY ALL").fetchall() == before


def test_a_record_broken_the_same_way_in_several_snapshots_is_one_exception_naming_the_latest_file(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute(sql_text("ddl/ops"))
    record_exceptions(
        con,
        "extract",
        "hr",
        "workers",
        [
            (
                "W-17",
                "hire_date:not_null",
                "workers_2026-09-29.json row 17: hire_date is missing",
                "hr",
                "workers_2026-09-29.json",
                17,
            ),
            (
                "W-17",
                "hire_date:not_null",
                "workers_2026-09-30.json row 18: hire_date is missing",
                "hr",
                "workers_2026-09-30.json",
                18,
            ),
        ],
        DAY1,
    )
    assert con.execute("SELECT record_key, file, row_number FROM ops.exceptions").fetchall() == [
        ("W-17", "workers_2026-09-30.json", 18)
    ]
