"""Reconciliation per legal entity (issue #18): each entity's entries in a part of its own behind the firm-wide
`recon.time_to_bill`, a project that changes entity moves with its entries, one entity's run leaves the others'
parts alone, a capped contract spread over two entities is held, and a warehouse written before the split keeps
every date."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import dagster as dg
import duckdb

from assets.partitions import entity_key, legal_entities
from assets.recon.assets import time_to_bill
from assets.versions import entity_parts, entity_table, store_of
from tests.conftest import manifest
from tests.helpers import all_assets, materialize_as_of, query, resources_for


def _parts(wh) -> list[str]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return entity_parts(con, "recon.time_to_bill")
    finally:
        con.close()


def _stored(wh, entity: str) -> list[tuple]:
    """Every stored version of an entity's part, in a stable order."""
    return query(wh, f"SELECT * FROM {store_of(entity_table('recon.time_to_bill', entity))} ORDER BY ALL")


def _psa(landing, sql: str, params=()) -> None:
    db = sqlite3.connect(landing / "psa" / "psa.db")
    db.execute(sql, params)
    db.commit()
    db.close()


def test_each_entity_reconciles_its_own_projects_and_a_moved_project_moves_with_its_entries(estate_copy, tmp_path):
    landing, m = estate_copy, manifest(estate_copy)
    d = date.fromisoformat(m["as_of"])
    d2 = d + timedelta(days=1)
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    every = all_assets(marts=True)
    assert materialize_as_of(landing, wh, d.isoformat(), outputs=out, assets=every).success

    entities = _parts(wh)
    assert len(entities) >= 3, "the estate reconciles in several legal entities"
    for e in entities:  # a part holds its own entity's entries only
        owners = query(wh, f"SELECT DISTINCT legal_entity FROM {entity_table('recon.time_to_bill', e)}")
        assert owners in ([(e,)], [])
    [(rows, distinct)] = query(
        wh, "SELECT count(*), count(DISTINCT time_entry_id) FROM recon.time_to_bill WHERE as_of_date = ?", [d]
    )
    parts = sum(
        query(wh, f"SELECT count(*) FROM {entity_table('recon.time_to_bill', e)} WHERE as_of_date = ?", [d])[0][0]
        for e in entities
    )
    assert rows == distinct == parts > 100  # the firm-wide view: every entity's rows, each entry once

    # a live project with approved work moves from entity A to entity B the next morning
    [(project_id, code, a, n)] = query(
        wh,
        """SELECT p.project_id, t.project_code, t.legal_entity, count(*) FROM recon.time_to_bill t
           JOIN canonical.project_asof(?) p USING (project_code)
           WHERE t.as_of_date = ? GROUP BY ALL ORDER BY 4 DESC, 2 LIMIT 1""",
        [d, d],
    )
    b = next(e for e in entities if e != a)
    _psa(
        landing,
        "UPDATE projects SET legal_entity = ?, updated_at = ? WHERE project_id = ?",
        (b, f"{d2}T08:00:00", project_id),
    )
    assert materialize_as_of(landing, wh, d2.isoformat(), outputs=out, assets=every).success

    where = f"{{}} WHERE as_of_date = ? AND project_code = '{code}'"
    in_a = query(wh, f"SELECT count(*) FROM {where.format(entity_table('recon.time_to_bill', a))}", [d2])[0][0]
    in_b = query(wh, f"SELECT count(*) FROM {where.format(entity_table('recon.time_to_bill', b))}", [d2])[0][0]
    assert (in_a, in_b >= n) == (0, True)  # on d2 the entries are B's (and whatever was approved since)
    then = query(wh, f"SELECT count(*) FROM {where.format(entity_table('recon.time_to_bill', a))}", [d])[0][0]
    assert then == n  # d reads as it did: A's
    assert query(
        wh, "SELECT count(*) = count(DISTINCT time_entry_id) FROM recon.time_to_bill WHERE as_of_date = ?", [d2]
    ) == [(True,)]
    # its marts move with it: on d2 its months of realization and margin, and its WIP, are B's alone; d keeps A's
    for mart in ("marts.realization_monthly", "marts.project_margin", "marts.unbilled_wip"):
        rows = query(wh, f"SELECT count(*) FROM {where.format(mart)}", [d])[0][0]
        assert rows > 0 or mart == "marts.unbilled_wip", mart  # its work may all be billed
        owners = [(a,)] if rows else []
        assert query(wh, f"SELECT DISTINCT legal_entity FROM {where.format(mart)}", [d]) == owners, mart
        assert query(wh, f"SELECT count(*) FROM {where.format(entity_table(mart, a))}", [d2]) == [(0,)], mart
        assert query(wh, f"SELECT DISTINCT legal_entity FROM {where.format(mart)}", [d2]) in ([(b,)], []), mart
        assert query(wh, f"SELECT count(*) FROM {where.format(mart)}", [d2])[0][0] >= rows, mart
    assert query(
        wh,
        "SELECT count(*) = count(DISTINCT (project_code, month)) FROM marts.realization_monthly WHERE as_of_date = ?",
        [d2],
    ) == [(True,)]

    # one entity's run (as the sensor launches it, one partition) rewrites its own part only
    others = {e: _stored(wh, e) for e in entities if e != a}
    before = query(wh, "SELECT * FROM recon.time_to_bill WHERE as_of_date = ? ORDER BY time_entry_id", [d2])
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(legal_entities.name, entities)
    result = dg.materialize(
        [time_to_bill],
        resources=resources_for(landing, wh, outputs=out),
        partition_key=entity_key(d2.isoformat(), a),
        instance=instance,
        selection=[time_to_bill.key],
    )
    [mat] = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    assert mat.metadata["legal_entities"].value == a
    assert "0 entries" in mat.metadata["recomputed"].value  # nothing arrived since: nothing recomputed
    assert {e: _stored(wh, e) for e in others} == others
    assert query(wh, "SELECT * FROM recon.time_to_bill WHERE as_of_date = ? ORDER BY time_entry_id", [d2]) == before


SPLIT_NAMES = (
    "recon.cap_usage",
    "recon.time_to_bill",
    "marts.realization_monthly",
    "marts.project_margin",
    "marts.unbilled_wip",
)


def test_a_first_date_no_entity_settles_publishes_empty_firm_views_that_the_first_entities_take_over(
    estate_copy, tmp_path
):
    """A firm whose PSA names no project on its first date: no legal entity reconciles or bills, and the firm view
    still builds, reading the tables split by entity as empty ones with their published columns. Once the projects
    arrive, the entities' parts replace the empty views, with the same columns."""
    landing, m = estate_copy, manifest(estate_copy)
    d = date.fromisoformat(m["as_of"])
    d2 = d + timedelta(days=1)
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    every = all_assets(marts=True)
    db = sqlite3.connect(landing / "psa" / "psa.db")
    columns = [r[1] for r in db.execute("PRAGMA table_info(projects)")]
    projects = db.execute("SELECT * FROM projects").fetchall()
    db.execute("DELETE FROM projects")
    db.commit()

    result = materialize_as_of(landing, wh, d.isoformat(), outputs=out, assets=every)
    assert result.success
    assert dg.AssetKey(["marts", "backlog"]) in {e.asset_key for e in result.get_asset_materialization_events()}
    assert _parts(wh) == [] and not list((out / "billing_batches").glob("*.json"))
    empty = {}
    for table in SPLIT_NAMES:
        assert query(wh, f"SELECT count(*) FROM {table}") == [(0,)], table
        empty[table] = query(wh, f"SELECT column_name, column_type FROM (DESCRIBE {table})")
    assert ("legal_entity", "VARCHAR") in empty["recon.time_to_bill"]
    assert ("expected_amount", "DECIMAL(18,2)") in empty["recon.time_to_bill"]

    at = columns.index("updated_at")
    marks = ", ".join("?" for _ in columns)
    for row in projects:  # the projects arrive the next morning
        db.execute(f"INSERT INTO projects VALUES ({marks})", (*row[:at], f"{d2}T08:00:00", *row[at + 1 :]))
    db.commit()
    db.close()
    assert materialize_as_of(landing, wh, d2.isoformat(), outputs=out, assets=every).success
    assert len(_parts(wh)) >= 3
    for table in SPLIT_NAMES:
        assert query(wh, f"SELECT column_name, column_type FROM (DESCRIBE {table})") == empty[table], table
    assert query(wh, "SELECT count(*) > 100 FROM recon.time_to_bill WHERE as_of_date = ?", [d2]) == [(True,)]
    assert query(wh, "SELECT count(*) FROM recon.time_to_bill WHERE as_of_date = ?", [d]) == [(0,)]


def test_a_capped_contract_whose_projects_stand_in_two_entities_is_held_not_billed_twice(estate_copy, tmp_path):
    """Each entity counts a not-to-exceed cap over its own projects: a capped contract whose projects are spread over
    two entities would be counted twice, so it is held, and none of its work is billed until master data is fixed."""
    landing, m = estate_copy, manifest(estate_copy)
    d = date.fromisoformat(m["as_of"])
    d2 = d + timedelta(days=1)
    first = tmp_path / "first.duckdb"
    assert materialize_as_of(landing, first, d.isoformat(), outputs=tmp_path / "out1").success
    # a capped contract with unbilled work, and a project of another entity that is put on it
    [(contract, entity)] = query(
        first,
        """SELECT contract_id, any_value(legal_entity) FROM recon.time_to_bill
           WHERE as_of_date = ? AND cap_hours IS NOT NULL AND recon_status = 'UNBILLED'
           GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1""",
        [d],
    )
    [(other, other_entity)] = query(
        first,
        "SELECT project_id, legal_entity FROM canonical.project_asof(?) WHERE legal_entity <> ? ORDER BY 1 LIMIT 1",
        [d, entity],
    )
    _psa(
        landing,
        "UPDATE projects SET crm_contract_id = ?, updated_at = ? WHERE project_id = ?",
        (contract, f"{d2}T08:00:00", other),
    )

    # a first run on d2 in a warehouse (and workflow store) of its own: nothing billed before (beside the first
    # warehouse, the store would know its batches of d, and the ledger guard would rightly refuse to bill again)
    (tmp_path / "second").mkdir()
    wh, out = tmp_path / "second" / "wh.duckdb", tmp_path / "second" / "out"
    assert materialize_as_of(landing, wh, d2.isoformat(), outputs=out).success
    [(scope, rule, owner, hold)] = query(
        wh,
        "SELECT scope, rule, owner, hold FROM recon.billing_holds WHERE as_of_date = ? AND scope_key = ?",
        [d2, contract],
    )
    assert (scope, rule, owner) == ("contract", "cap_across_legal_entities", "finance")
    assert contract in hold and entity in hold and other_entity in hold
    statuses = query(
        wh,
        "SELECT DISTINCT recon_status, reason FROM recon.time_to_bill WHERE as_of_date = ? AND contract_id = ? "
        "AND recon_status IN ('UNBILLED', 'INELIGIBLE', 'OVER_CAP')",
        [d2, contract],
    )
    assert ("INELIGIBLE", "INPUT_HELD") in statuses and ("UNBILLED", None) not in statuses
    codes = [
        c
        for (c,) in query(
            wh, "SELECT project_code FROM canonical.project_asof(?) WHERE crm_contract_id = ?", [d2, contract]
        )
    ]
    assert len(codes) >= 2
    assert query(wh, "SELECT count(*) FROM billing.batch_lines WHERE list_contains(?, project_code)", [codes]) == [(0,)]
    assert query(wh, "SELECT count(*) FROM billing.batch_lines") != [(0,)]  # the rest of the firm still bills


def test_a_warehouse_written_before_the_split_keeps_every_date_in_the_entities_parts(tmp_path, monkeypatch):
    """The versions of a table kept whole become each legal entity's part, by the rows' legal_entity: every date
    written before reads the same through the firm-wide view, and the next write goes to the parts."""
    from assets import versions
    from assets.versions import Versioned, ensure_firm_view, split_by_entity, write_rows
    from resources.warehouse import ensure_schema

    table = "recon.demo"
    spec = Versioned(key=("entry",), derived={"age": "d.as_of_date - v.since"})
    monkeypatch.setitem(versions.VERSIONED, table, spec)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS recon")
    rows = "SELECT * FROM (VALUES {}) AS t(entry, legal_entity, amount, since, age, as_of_date)"

    def day(n: int, values: list[tuple]) -> str:
        d = date(2026, 9, n)
        return rows.format(", ".join(f"({e}, '{le}', {a}, DATE '2026-09-01', 0, DATE '{d}')" for e, le, a in values))

    days = {
        1: [(1, "US01", 10), (2, "UK01", 20)],
        2: [(1, "US01", 11), (2, "UK01", 20), (3, "UK01", 30)],
        3: [(2, "UK01", 21), (3, "UK01", 30)],
    }
    for n, values in days.items():  # written whole, as before the split
        write_rows(con, table, table, day(n, values), [], date(2026, 9, n))

    def read() -> dict:
        got = con.execute("SELECT as_of_date, entry, legal_entity, amount, age FROM recon.demo ORDER BY ALL").fetchall()
        return {d: [r[1:] for r in got if r[0] == d] for d in sorted({r[0] for r in got})}

    whole = read()
    split_by_entity(con, table)
    assert entity_parts(con, table) == ["UK01", "US01"]
    assert read() == whole
    assert con.execute("SELECT count(*) FROM ops.as_of_dates WHERE table_name = ?", [table]).fetchall() == [(0,)]
    split_by_entity(con, table)  # again: nothing left to split
    assert read() == whole

    write_rows(con, entity_table(table, "US01"), table, day(4, [(1, "US01", 12)]), [], date(2026, 9, 4))
    ensure_firm_view(con, table)
    assert read()[date(2026, 9, 4)] == [(1, "US01", 12, 3)]
    assert {d: r for d, r in read().items() if d.day < 4} == whole
    con.close()


def test_marts_written_before_the_split_go_to_their_projects_entities(tmp_path):
    """A mart written whole before it was split by legal entity has no legal_entity column: its rows go to their
    project's entity (as the PSA has it now), kept as they were kept (versions, or a copy per date); every date
    reads the same through the firm view, with the entity added; a row whose project no entity owns is dropped,
    for its date's replay to write again."""
    from assets.marts.assets import PROJECT_ENTITY
    from assets.versions import split_by_entity, write_rows
    from resources.warehouse import ensure_schema

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts; CREATE SCHEMA IF NOT EXISTS canonical")
    con.execute(
        "CREATE TABLE canonical.project AS "
        "SELECT * FROM (VALUES ('P1', 'US01'), ('P2', 'UK01')) t(project_code, legal_entity)"
    )
    d1, d2 = date(2026, 9, 1), date(2026, 9, 2)

    # kept as a copy per date
    con.execute(
        """CREATE TABLE marts.unbilled_wip AS SELECT * FROM (VALUES
           ('P1', 10.00, DATE '2026-09-01'), ('P2', 20.00, DATE '2026-09-01'), ('PX', 5.00, DATE '2026-09-01'),
           ('P1', 11.00, DATE '2026-09-02')) t(project_code, unbilled_value, as_of_date)"""
    )
    split_by_entity(con, "marts.unbilled_wip", entity_of=PROJECT_ENTITY)
    assert entity_parts(con, "marts.unbilled_wip") == ["UK01", "US01"]
    assert con.execute("SELECT * FROM marts.unbilled_wip ORDER BY as_of_date, project_code").fetchall() == [
        ("P1", 10, d1, "US01"),
        ("P2", 20, d1, "UK01"),
        ("P1", 11, d2, "US01"),
    ]

    # kept as versions
    rows = "SELECT * FROM (VALUES {}) AS t(project_code, month, billed_value, as_of_date)"
    for d, values in (
        (d1, "('P1', DATE '2026-08-01', 100.00), ('P2', DATE '2026-08-01', 50.00)"),
        (d2, "('P1', DATE '2026-08-01', 120.00), ('P2', DATE '2026-08-01', 50.00)"),
    ):
        values = values.replace("00)", f"00, DATE '{d}')")
        write_rows(con, "marts.realization_monthly", "marts.realization_monthly", rows.format(values), [], d)
    before = con.execute("SELECT * FROM marts.realization_monthly ORDER BY ALL").fetchall()
    split_by_entity(con, "marts.realization_monthly", entity_of=PROJECT_ENTITY)
    assert entity_parts(con, "marts.realization_monthly") == ["UK01", "US01"]
    after = con.execute(
        "SELECT project_code, month, billed_value, as_of_date, legal_entity FROM marts.realization_monthly ORDER BY ALL"
    ).fetchall()
    assert [r[:4] for r in after] == before and {r[0]: r[4] for r in after} == {"P1": "US01", "P2": "UK01"}
    assert store_of("marts.realization_monthly") not in {
        f"marts.{n}" for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    }
    con.close()


def test_the_published_snapshot_holds_a_split_table_in_one_order_whatever_order_its_parts_were_written_in(
    tmp_path, monkeypatch
):
    """Two warehouses with the same rows of recon.time_to_bill, their parts written in different orders and one
    entry in two entities' parts (its project moved): their snapshots hold the rows in the same order, by entry and
    then legal entity, so a replay publishes the same file content whatever order the entities ran in."""
    from assets import versions
    from assets.marts.publish import publish_snapshot
    from assets.versions import Versioned, ensure_firm_view, write_rows
    from resources.warehouse import ensure_schema

    monkeypatch.setitem(versions.VERSIONED, "recon.time_to_bill", Versioned(key=("time_entry_id",)))
    d = date(2026, 9, 30)
    rows = "SELECT * FROM (VALUES {}) AS t(time_entry_id, legal_entity, amount, as_of_date)"
    parts = {"US01": [(3, "30.00"), (1, "10.00"), (2, "20.00")], "UK01": [(5, "50.00"), (2, "21.00")]}

    def published(name: str, entity_order: list[str], reverse: bool) -> list[tuple]:
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
        ensure_schema(con)
        for e in entity_order:
            values = sorted(parts[e], reverse=reverse)
            sql = rows.format(", ".join(f"({i}, '{e}', {a}, DATE '{d}')" for i, a in values))
            write_rows(con, entity_table("recon.time_to_bill", e), "recon.time_to_bill", sql, [], d)
        ensure_firm_view(con, "recon.time_to_bill")
        target = publish_snapshot(con, d, tmp_path / f"{name}-published.duckdb")
        con.close()
        with duckdb.connect(str(target), read_only=True) as pub:  # no ORDER BY: the order the file holds
            return pub.execute("SELECT time_entry_id, legal_entity, amount FROM recon.time_to_bill").fetchall()

    first = published("a", ["US01", "UK01"], reverse=False)
    assert first == [
        (1, "US01", 10),
        (2, "UK01", 21),
        (2, "US01", 20),
        (3, "US01", 30),
        (5, "UK01", 50),
    ]
    assert published("b", ["UK01", "US01"], reverse=True) == first
