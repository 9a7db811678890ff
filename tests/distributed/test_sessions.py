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
        assert con.execute("SELECT turn FROM ops.write_turns").fetchall() == [("billing_emission",)]
    code = (
        "from resources.warehouse import open_warehouse; con = open_warehouse("
        f"{lake.path!r}); con.execute('DROP TABLE ops.ddl_version'); con.execute('DROP TABLE ops.write_turns'); "
        "con.close()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    with pytest.raises(duckdb.CatalogException), lake.connect() as con:
        con.execute("SELECT turn FROM ops.write_turns").fetchall()  # the checked instance did not look again
    with lake.connect() as con:
        assert con.execute("SELECT turn FROM ops.write_turns").fetchall() == [("billing_emission",)]
        assert con.execute("SELECT count(*) FROM ops.ddl_version").fetchall() == [(1,)]
