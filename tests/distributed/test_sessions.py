"""The steps of one process share a DuckDB instance on the shared warehouse (the extensions loaded and the catalog
attached once), but never past a failure: a session that failed, a commit refused included, leaves the next step a
new instance, so no aborted catalog transaction reaches it; and a reused instance still sees what other
processes committed."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from resources import warehouse as wh
from tests.distributed.conftest import ROOT, Databases


@pytest.fixture
def lake(tmp_path):
    dbs = Databases()
    target = f"ducklake:postgres:{dbs.libpq(dbs.create())}"
    resource = wh.Warehouse(path=target, data_path=str(tmp_path / "lake"), memory_limit="1GB")
    with resource.connect() as con:
        con.execute("CREATE TABLE ops.probe (id INTEGER)")
    try:
        yield resource
    finally:
        wh.discard_lake_instances()
        dbs.drop()


def _instances() -> list:
    return list(wh._lake_instances.values())


def test_steps_reuse_one_instance_and_see_other_processes_commits(lake):
    with lake.connect() as con:
        con.execute("INSERT INTO ops.probe VALUES (1)")
    first = _instances()
    assert len(first) == 1
    code = (
        "from resources.warehouse import open_warehouse; "
        f"con = open_warehouse({lake.path!r}); con.execute('INSERT INTO ops.probe VALUES (2)'); con.close()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    with lake.connect() as con:
        assert con.execute("SELECT list(id ORDER BY id) FROM ops.probe").fetchall() == [([1, 2],)]
    assert _instances() == first  # the same instance: nothing attached again


def test_a_failed_session_leaves_the_next_step_a_new_instance_that_works(lake):
    with lake.connect() as con:
        con.execute("SELECT 1").fetchall()
    before = _instances()
    with pytest.raises(duckdb.Error), lake.connect() as con:
        con.begin()
        con.execute("INSERT INTO ops.probe VALUES (1)")
        con.execute("INSERT INTO ops.missing VALUES (1)")  # the transaction is aborted here
    assert _instances() == []  # discarded with the failed session
    with lake.connect() as con:
        con.begin()
        con.execute("INSERT INTO ops.probe VALUES (3)")
        con.commit()
        assert con.execute("SELECT list(id) FROM ops.probe").fetchall() == [([3],)]  # nothing of the failed one
    assert len(_instances()) == 1 and _instances() != before


def test_the_schema_is_checked_once_per_instance_and_again_after_a_failure(lake):
    """A step does not read the DDL's version from the catalog again on an instance that has checked it; when the
    operational tables went missing meanwhile (dropped by hand here), the step that meets the gap fails, and the
    next one, on a new instance, puts them back."""
    with lake.connect() as con:
        con.execute("SELECT count(*) FROM ops.watermarks").fetchall()  # there
    code = (
        "from resources.warehouse import open_warehouse; con = open_warehouse("
        f"{lake.path!r}); con.execute('DROP TABLE ops.ddl_version'); con.execute('DROP TABLE ops.watermarks'); "
        "con.close()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    with pytest.raises(duckdb.CatalogException), lake.connect() as con:
        con.execute("SELECT count(*) FROM ops.watermarks").fetchall()  # the checked instance did not look again
    with lake.connect() as con:
        con.execute("SELECT count(*) FROM ops.watermarks").fetchall()  # there
        assert con.execute("SELECT count(*) FROM ops.ddl_version").fetchall() == [(1,)]


def test_two_entities_emit_side_by_side_and_one_entity_twice_conflicts(lake):
    """The emission's rule on the shared catalog: two legal entities' transactions, each taking its entity's turn and
    appending its keys to one ledger, both commit; two transactions of one entity at once, the second is refused
    (and its step retried on the first's keys), so no key is recorded twice."""
    from assets.billing.emit import entity_turn

    def emission(con, entity: str, key: str):
        con.begin()
        wh.take_turn(con, entity_turn(entity))
        con.execute("INSERT INTO ops.probe VALUES (?)", [key])

    with lake.connect() as setup:
        for entity in ("US01", "DE01"):
            wh.ensure_turn(setup, entity_turn(entity))
            wh.ensure_turn(setup, entity_turn(entity))  # again: still one row
        assert setup.execute("SELECT count(*) FROM ops.turn__billing_emission__us01").fetchall() == [(1,)]
    us, de = (wh.open_warehouse(lake.path, data_path=lake.data_path) for _ in range(2))
    try:
        emission(us, "US01", 101)
        emission(de, "DE01", 201)
        us.commit()
        de.commit()  # another entity: no conflict
        emission(us, "US01", 102)
        emission(de, "US01", 103)
        us.commit()
        with pytest.raises(duckdb.TransactionException) as refused:
            de.commit()
        assert wh.is_write_conflict(refused.value)
    finally:
        us.close()
        de.close()
    with lake.connect() as con:
        assert con.execute("SELECT list(id ORDER BY id) FROM ops.probe").fetchall() == [([101, 102, 201],)]
