"""Versioned storage of published per-date tables (assets/versions.py): every written date reads back exactly the
rows last written for it, whatever the order of writes, and a date that changes nothing stores nothing."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from assets import versions
from assets.versions import OPEN, Versioned, _ensure_store, _store_date
from resources.warehouse import ensure_schema

TABLE = "recon.demo"
SPEC = Versioned(key=("entry",), derived={"age": "d.as_of_date - v.since"})
COLUMNS = [
    ("entry", "BIGINT"),
    ("status", "VARCHAR"),
    ("amount", "DECIMAL(18,2)"),
    ("since", "DATE"),
    ("age", "BIGINT"),
    ("as_of_date", "DATE"),
]


def _warehouse(path) -> duckdb.DuckDBPyConnection:
    """A warehouse with the project's own operational tables and macros (sql/ddl)."""
    c = duckdb.connect(str(path))
    ensure_schema(c)
    c.execute("CREATE SCHEMA IF NOT EXISTS recon")
    return c


@pytest.fixture
def con(tmp_path, monkeypatch):
    monkeypatch.setitem(versions.VERSIONED, TABLE, SPEC)
    c = _warehouse(tmp_path / "w.duckdb")
    _ensure_store(c, TABLE, SPEC, COLUMNS)
    yield c
    c.close()


def write(con, d: date, rows: dict[int, tuple], scope: set[int] | None = None) -> None:
    """Write ``d``; with ``scope``, as an incremental run does: only those keys' rows, compared with theirs only."""
    con.execute("CREATE OR REPLACE TEMP TABLE _v_new (entry BIGINT, status VARCHAR, amount DECIMAL(18,2), since DATE)")
    if scope is not None:
        rows = {k: v for k, v in rows.items() if k in scope}
        con.execute("CREATE OR REPLACE TEMP TABLE _scope (entry BIGINT)")
        con.executemany("INSERT INTO _scope VALUES (?)", [(k,) for k in scope])
    if rows:
        con.executemany("INSERT INTO _v_new VALUES (?, ?, ?, ?)", [(k, *v) for k, v in rows.items()])
    _store_date(con, TABLE, SPEC, d, "SELECT entry FROM _scope" if scope is not None else None)


def read(con, d: date) -> dict[int, tuple]:
    got = con.execute("SELECT entry, status, amount, since, age FROM recon.demo WHERE as_of_date = ?", [d]).fetchall()
    assert len(got) == len({r[0] for r in got}), f"{d}: a key twice"
    for _entry, *_, since, age in got:
        assert age == (d - since).days  # the date-derived column is computed as read
    return {r[0]: tuple(r[1:4]) for r in got}


def versions_stored(con) -> int:
    return con.execute("SELECT count(*) FROM recon.demo__versions").fetchall()[0][0]


def test_a_night_that_changes_nothing_stores_nothing_and_a_change_stores_one_row(con):
    day1 = date(2026, 9, 1)
    rows = {i: ("UNBILLED", f"{i}.50", date(2026, 8, 1)) for i in range(1, 1001)}
    write(con, day1, rows)
    assert versions_stored(con) == 1000
    for k in range(1, 10):  # nights with nothing changed
        write(con, day1 + timedelta(days=k), rows)
    assert versions_stored(con) == 1000
    rows[7] = ("BILLED_OK", "7.50", date(2026, 8, 1))
    del rows[8]
    write(con, day1 + timedelta(days=10), rows)
    assert versions_stored(con) == 1001  # entry 7's new version; entry 8's old one closed, nothing added
    assert read(con, day1 + timedelta(days=9))[7][0] == "UNBILLED" and 8 in read(con, day1 + timedelta(days=9))
    assert read(con, day1 + timedelta(days=10))[7][0] == "BILLED_OK" and 8 not in read(con, day1 + timedelta(days=10))
    assert read(con, day1 + timedelta(days=10))[1] == ("UNBILLED", Decimal("1.50"), date(2026, 8, 1))
    open_now = con.execute("SELECT count(*) FROM recon.demo__versions WHERE valid_to = ?", [OPEN]).fetchall()[0][0]
    assert open_now == 999


def test_dates_written_in_any_order_read_back_what_was_last_written_for_them(con):
    """Whole dates and, for dates already written, reruns that rewrite only some keys (incremental recon)."""
    rng = random.Random(7)
    start = date(2026, 1, 1)
    model: dict[date, dict[int, tuple]] = {}
    base = {i: (rng.choice(["UNBILLED", "BILLED_OK", "OVER_CAP"]), f"{i}.00", start) for i in range(40)}
    for step in range(80):
        d = start + timedelta(days=rng.randrange(25))  # backfills, replays and new dates, mixed
        rows = dict(model.get(d, base))
        changed = rng.sample(range(50), rng.randrange(6))
        for k in changed:  # a few rows change, vanish or appear
            if rng.random() < 0.3 and k in rows:
                del rows[k]
            else:
                rows[k] = (rng.choice(["UNBILLED", "BILLED_OK", "OVER_CAP"]), f"{k}.{rng.randrange(3)}0", start)
        if d in model and rng.random() < 0.5:  # a rerun: the changed keys and a few unchanged ones, nothing else
            write(con, d, rows, scope=set(changed) | set(rng.sample(range(50), 3)))
        else:
            write(con, d, rows)
        model[d] = rows
        for written, expected in model.items():
            got = read(con, written)
            want = {k: (s, Decimal(a).quantize(Decimal("0.01")), t) for k, (s, a, t) in expected.items()}
            assert got == want, f"step {step}: {written} after writing {d}"


def test_a_warehouse_written_a_copy_per_date_is_folded_into_versions_without_losing_a_row(tmp_path, monkeypatch):
    monkeypatch.setitem(versions.VERSIONED, TABLE, SPEC)
    c = _warehouse(tmp_path / "old.duckdb")
    c.execute(  # the old layout: every date a full copy, the derived column stored
        "CREATE TABLE recon.demo AS SELECT * FROM (VALUES "
        "(1, 'UNBILLED', 10.00, DATE '2026-09-01', 0, DATE '2026-09-01'),"
        "(1, 'UNBILLED', 10.00, DATE '2026-09-01', 1, DATE '2026-09-02'),"
        "(2, 'UNBILLED', 20.00, DATE '2026-09-01', 1, DATE '2026-09-02')"
        ") AS t(entry, status, amount, since, age, as_of_date)"
    )
    _ensure_store(c, TABLE, SPEC, COLUMNS)
    assert read(c, date(2026, 9, 1)) == {1: ("UNBILLED", Decimal("10.00"), date(2026, 9, 1))}
    assert set(read(c, date(2026, 9, 2))) == {1, 2}
    assert versions_stored(c) == 2  # entry 1 once for both dates
    assert c.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'demo'").fetchall() == [
        ("VIEW",)
    ]
    c.close()
