"""Shared fixtures: small generated estates with known answers, and the PostgreSQL server."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from estate import EstateConfig, generate_estate
from tests.helpers import materialize_as_of

SMALL = dict(employees=80, months=4, seed=7)


def _import_anyio_now() -> None:
    """Every module of anyio, imported in the main thread. anyio imports its modules on first use, and the
    workbench's TestClient first uses some of them in the thread that serves requests; pytest rewrites a plugin's
    modules as they are imported (anyio is one), parsing their source there, and CPython 3.11's parser now and then
    fails in a thread other than the main one ("SystemError: AST constructor recursion depth mismatch")."""
    import anyio

    for module in pkgutil.walk_packages(anyio.__path__, "anyio."):
        try:
            importlib.import_module(module.name)
        except ImportError:  # a backend whose library is not installed (trio)
            pass


_import_anyio_now()
PG_URL = os.environ.get("PSSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def small_estate(tmp_path_factory) -> Path:
    """A generated estate (80 employees, 4 months) shared read-only by the tests of a worker."""
    out = tmp_path_factory.mktemp("estate") / "landing"
    generate_estate(EstateConfig(out=out, progress=False, **SMALL))
    return out


@pytest.fixture
def estate_copy(small_estate, tmp_path) -> Path:
    """A private copy of the small estate that a test may change."""
    dst = tmp_path / "landing"
    shutil.copytree(small_estate, dst)
    return dst


@pytest.fixture
def scenario(tmp_path):
    """An empty hand-built estate (tests/scenario.py) to fill in."""
    from tests.scenario import Scenario

    return Scenario(tmp_path / "landing")


def pytest_collection_modifyitems(items):
    """The tests marked ``long`` first: a worker that draws one last would run alone for a minute while the other
    idles (xdist balances what is left, not what has started)."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def manifest(landing: Path) -> dict:
    return json.loads((landing / "_truth" / "manifest.json").read_text())


def _pg_available() -> str | None:
    try:
        eng = sa.create_engine(PG_URL)
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]


@pytest.fixture
def pg_database():
    """A fresh PostgreSQL database on the test server, dropped afterwards. Skips outside CI when the
    server is absent; under CI=true the server is required."""
    problem = _pg_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL at {PG_URL} is unreachable: {problem}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable ({problem}); set PSSYNC_TEST_PG_URL")
    name = f"pssync_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def fault_estate(tmp_path_factory) -> Path:
    """The estate the fault-injection tests break (60 employees x 4 months, seed 11), shared read-only."""
    from tests.faults import FAULT_ESTATE

    out = tmp_path_factory.mktemp("fault_estate") / "landing"
    generate_estate(EstateConfig(out=out, progress=False, **FAULT_ESTATE))
    return out


@pytest.fixture(scope="session")
def clean_billing(fault_estate, tmp_path_factory) -> dict:
    """What a clean run bills on the fault estate: the ledger keys of the as-of date and of the next day."""
    from tests.faults import AS_OF, NEXT, ledger_keys, run

    work = tmp_path_factory.mktemp("clean_run")
    wh = work / "warehouse.duckdb"
    first = run(fault_estate, wh, AS_OF, work / "output")
    assert first.code == 0, first.verdict
    run(fault_estate, wh, NEXT, work / "output")
    return {
        AS_OF: ledger_keys(wh, AS_OF),
        NEXT: ledger_keys(wh, NEXT),
        "files": sorted(p.name for p in (work / "output" / "billing_batches").glob("*.json")),
        "warehouse": wh,
        "output": work / "output",
    }


@pytest.fixture
def faulty(fault_estate, tmp_path):
    """A private copy of the fault estate, with its warehouse and output folder."""
    from tests.faults import copy_estate

    return copy_estate(fault_estate, tmp_path / "landing"), tmp_path / "warehouse.duckdb", tmp_path / "output"


@pytest.fixture
def billed(estate_copy, tmp_path):
    """The small estate settled for its as-of date: (landing, warehouse, outputs folder, manifest)."""
    m = manifest(estate_copy)
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    assert materialize_as_of(estate_copy, wh, m["as_of"], outputs=out).success
    return estate_copy, wh, out, m
