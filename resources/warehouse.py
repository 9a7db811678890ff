"""The DuckDB warehouse: one file holding every layer, and the SQL files that build it."""

from __future__ import annotations

import hashlib
import importlib
import os
import random
import re
import shutil
import tempfile
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from resources.sql_reads import parameters

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

# a legal entity as the canonical contracts admit it (checks/contracts.py): what a table part, a turn and a batch id
# may carry
LEGAL_ENTITY = re.compile(r"[A-Z0-9]{2,12}")


def sql_text(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def bound_params(query: str, params: dict) -> dict:
    """The named parameters a query uses (DuckDB refuses parameters a statement does not reference)."""
    used = parameters(query)
    return {k: v for k, v in params.items() if k in used}


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``schema.name`` (a table or a view) exists in the connection's own database (not in one attached to
    it). DuckDB's own catalog functions, not information_schema: on a shared warehouse that view cost 40 ms a
    call outside a transaction against 8 ms for these."""
    schema, name = table.split(".")
    return (
        con.execute(
            "SELECT count(*) FROM (SELECT schema_name, table_name AS name FROM duckdb_tables() "
            "WHERE database_name = current_database() UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = current_database()) WHERE schema_name = ? AND name = ?",
            [schema, name],
        ).fetchall()[0][0]
        > 0
    )


def read_frame(con: duckdb.DuckDBPyConnection, query: str, params: dict | list | None = None):
    """The rows of ``query`` as a polars frame, decimals kept exact (through Arrow, never through pandas' floats).
    On DuckDB 1.5 (the shared warehouse's) the query is executed, not read as a relation (``con.sql``): at L a
    relation over a table written earlier in the same session never returned, where the executed query took 0.8 s.
    DuckDB 2 has no polars output for an executed query (and copies the rows once more for Arrow), so it reads a
    relation."""
    if hasattr(con, "pl"):
        return con.execute(query, params or []).pl()  # type: ignore[attr-defined]  # DuckDB 1.x only (above)
    return con.sql(query, params=params).pl()


_stopping = threading.Event()


def request_stop() -> None:
    """A stop was asked for (SIGTERM): the query in progress is interrupted by DuckDB and rolls back, and no
    later step opens the warehouse, so the run ends instead of going on without the interrupted step."""
    _stopping.set()


def stop_requested() -> bool:
    return _stopping.is_set()


SHARED_PREFIX = "ducklake:"
LAKE = "lake"  # the name the shared warehouse is attached under; every statement runs with it as the default


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened as configured; the message names the setting to fix."""


def is_shared(target: str) -> bool:
    """Whether ``PSSYNC_WAREHOUSE`` names a shared warehouse (a DuckLake catalog such as
    ``ducklake:postgres:dbname=pssync host=db1``) rather than an embedded DuckDB file."""
    return str(target).startswith(SHARED_PREFIX)


def _load_lake_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """Load DuckLake and the PostgreSQL scanner from their PyPI packages (no download at run time), else from
    DuckDB's own extension folder."""
    for package, name in (("duckdb_extension_ducklake", "ducklake"), ("duckdb_extension_postgres_scanner", "postgres")):
        try:
            folder = Path(str(importlib.import_module(package).__file__)).parent
            binary = next(folder.rglob(f"v{duckdb.__version__}/*.duckdb_extension"), None)
        except ImportError:
            binary = None
        try:
            con.execute(f"LOAD '{binary}'" if binary else f"LOAD {name}")
        except duckdb.Error as exc:
            raise WarehouseError(
                f"PSSYNC_WAREHOUSE names a shared warehouse but DuckDB {duckdb.__version__} cannot load the {name} "
                f"extension: install pssync[shared] (DuckDB 1.5 with its DuckLake packages); {str(exc).splitlines()[0]}"
            ) from None


def open_warehouse(
    target: str, read_only: bool = False, memory_limit: str | None = None, data_path: str = ""
) -> duckdb.DuckDBPyConnection:
    """A DuckDB session on the warehouse: the embedded file, or the shared DuckLake catalog attached as the
    default database (so every query of sql/ reads the same names in both modes). ``data_path`` is where a new
    shared warehouse keeps its Parquet files (``PSSYNC_WAREHOUSE_DATA``); an existing one knows its own.

    A session opened by this function on a shared warehouse is a DuckDB instance of its own (a third of a second to
    load the extensions and attach the catalog); the pipeline's steps reuse one per process (`Warehouse.connect`)."""
    config: dict[str, Any] = {"memory_limit": memory_limit} if memory_limit else {}
    if not is_shared(target):
        return duckdb.connect(str(target), read_only=read_only, config=config)
    return _attach_lake(target, read_only, config, data_path)


def _attach_lake(target: str, read_only: bool, config: dict, data_path: str) -> duckdb.DuckDBPyConnection:
    # an in-memory instance spills past its memory cap only into a temp_directory: without one nothing can spill and
    # the cap is a hard wall. One per instance, removed with it
    spill = tempfile.mkdtemp(prefix="pssync-spill-")
    con = duckdb.connect(config={**config, "temp_directory": spill})
    weakref.finalize(con, shutil.rmtree, spill, True)
    try:
        _load_lake_extensions(con)
        options = ["READ_ONLY"] if read_only else []
        if data_path:
            options.append(f"DATA_PATH '{_quote(str(Path(data_path).resolve()) + '/')}'")
        listed = f" ({', '.join(options)})" if options else ""
        con.execute(f"ATTACH '{_quote(target)}' AS {LAKE}{listed}")
        con.execute(f"USE {LAKE}")
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"PSSYNC_WAREHOUSE={target!r}: {str(exc).splitlines()[0]}") from None
    except WarehouseError:
        con.close()
        raise
    return con


_lake_instances: dict[tuple, duckdb.DuckDBPyConnection] = {}


def _lake_session(target: str, read_only: bool, memory_limit: str | None, data_path: str) -> duckdb.DuckDBPyConnection:
    """A session (a cursor) on this process's DuckDB instance for the shared warehouse, attached on first use.
    Loading the extensions and attaching the catalog cost a third of a second, which every step of a Celery worker
    paid again when each session was an instance of its own. An instance never crosses a fork, and one whose
    session failed is discarded (`discard_lake_instances`): its connection to the catalog may be left in an
    aborted transaction, which would fail every later session of the process."""
    key = _lake_key(target, read_only, memory_limit, data_path)
    instance = _lake_instances.get(key)
    if instance is None:
        config = {"memory_limit": memory_limit} if memory_limit else {}
        instance = _lake_instances[key] = _attach_lake(target, read_only, config, data_path)
    try:
        session = instance.cursor()
        session.execute(f"USE {LAKE}")  # a cursor starts on the instance's own in-memory database
    except BaseException:
        discard_lake_instances()
        raise
    return session


def _lake_key(target: str, read_only: bool, memory_limit: str | None, data_path: str) -> tuple:
    return (os.getpid(), target, read_only, memory_limit, data_path)


_lake_schema_checked: set[tuple] = set()
"""The instances on which `ensure_schema` found (or made) this code's version of the DDL: a shared warehouse's
schema is checked once per instance, not once per step (70 ms a step on the catalog in PostgreSQL). Forgotten with
the instance, so a session that failed for any reason, a missing table say, checks it again on the next."""


def discard_lake_instances() -> None:
    """Close this process's shared-warehouse instances (after a failed session): the next session attaches afresh,
    on a new connection to the catalog, and checks the schema again."""
    _lake_schema_checked.clear()
    while _lake_instances:
        _close(_lake_instances.popitem()[1])


def _quote(text: str) -> str:
    return text.replace("'", "''")


def ddl_for(con: duckdb.DuckDBPyConnection, ddl: str) -> str:
    """``ddl`` as this warehouse takes it. DuckLake has no PRIMARY KEY or UNIQUE constraint, so on a shared
    warehouse the keys are dropped from table definitions: the statements that write those tables merge on the
    same columns in both modes, and the billing ledger's one-batch-per-key rule holds through the emission's turn
    (assets/billing/emit.py)."""
    if con.execute("SELECT current_database()").fetchall()[0][0] != LAKE:
        return ddl
    ddl = re.sub(r",\s*PRIMARY KEY\s*\([^)]*\)", "", ddl)
    return re.sub(r"\s+PRIMARY KEY\b", "", ddl)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create or upgrade the schemas, operational tables and macros (sql/ddl), unless this warehouse already has
    exactly this version of them: every step opens its own session, and re-running the DDL each time cost
    a tenth of a second per step."""
    ddl = sql_text("ddl/ops") + "\n" + sql_text("ddl/macros")
    version = hashlib.sha256(ddl.encode()).hexdigest()
    try:
        if con.execute("SELECT version FROM ops.ddl_version").fetchall() == [(version,)]:
            return
    except duckdb.CatalogException:
        pass
    for name in ("ddl/ops", "ddl/macros"):
        con.execute(ddl_for(con, sql_text(name)))
    con.execute("CREATE OR REPLACE TABLE ops.ddl_version AS SELECT ? AS version", [version])


def _turn_table(turn: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]{1,60}", turn):
        raise ValueError(f"turn {turn!r}: lower-case letters, digits and _ only")
    return f"ops.turn__{turn}"


def ensure_turn(con: duckdb.DuckDBPyConnection, turn: str) -> None:
    """The one-row table of ``turn`` (outside any transaction): a table per turn, because a shared warehouse detects
    conflicting changes per table, and writers of different turns must not conflict with each other."""
    table = _turn_table(turn)
    if table_exists(con, table):
        return
    con.begin()  # table and row together: two first writers conflict on the table, never leave two rows
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} (taken BIGINT NOT NULL)")
        con.execute(f"INSERT INTO {table} SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {table})")
        con.commit()
    except BaseException:
        con.rollback()
        raise


def take_turn(con: duckdb.DuckDBPyConnection, turn: str) -> None:
    """Inside an open transaction: only one transaction holding ``turn`` commits at a time (see `ensure_turn`).
    Embedded, the file's single writer makes this trivially true; on a shared warehouse the catalog refuses the
    second commit, which `Warehouse.connect` turns into a retry of the step."""
    con.execute(f"UPDATE {_turn_table(turn)} SET taken = taken + 1")


def is_write_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a shared warehouse refusing a commit because a concurrent transaction changed the same
    rows (or created the same table) first: the work is safe to do again on the newer state."""
    return isinstance(exc, duckdb.TransactionException) and "DuckLake" in str(exc)


CONFLICT_RETRIES = 8


class Warehouse(dg.ConfigurableResource):
    """The warehouse at ``PSSYNC_WAREHOUSE``: an embedded DuckDB file (one writer at a time: jobs that write it run
    in process and one run at a time, see docs/operations.md), or a shared DuckLake catalog that several runs and
    workers write at once (docs/deployment.md)."""

    path: str
    memory_limit: str = "4GB"  # PSSYNC_DUCKDB_MEMORY_LIMIT
    data_path: str = ""  # PSSYNC_WAREHOUSE_DATA: the shared warehouse's data files
    _run_instance: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    @property
    def shared(self) -> bool:
        return is_shared(self.path)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """An embedded warehouse stays open for the whole run in this process (Dagster sets the resource up once
        per run and process): each step's session is a cursor on it, instead of opening the file, loading its
        catalog and checkpointing it on close for every step (about 60 ms each at L). The file is closed,
        and checkpointed, when the run's steps in this process are done. Outside a run (a sensor reading the
        path) nothing is opened."""
        if not self.shared and context.run is not None:
            self._run_instance = self._open(read_only=False)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._close_run_instance()

    def _close_run_instance(self) -> None:
        instance, self._run_instance = self._run_instance, None
        if instance is not None:
            _close(instance)

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if not self.shared:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return open_warehouse(self.path, read_only, self.memory_limit, self.data_path)

    def _session(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if self._run_instance is not None:
            return self._run_instance.cursor()
        if self.shared:
            return _lake_session(self.path, read_only, self.memory_limit, self.data_path)
        return self._open(read_only)

    def _ensure_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        """Inside the session's error handling: two first steps creating the DDL of a new shared warehouse at once
        conflict, and the one refused is retried like any write conflict."""
        if not self.shared:
            ensure_schema(con)
            return
        key = _lake_key(self.path, False, self.memory_limit, self.data_path)
        if key not in _lake_schema_checked:
            ensure_schema(con)
            _lake_schema_checked.add(key)

    @contextmanager
    def connect(self, read_only: bool = False):
        if _stopping.is_set():
            raise KeyboardInterrupt("pssync is stopping")
        con = self._session(read_only)
        try:
            con.execute("SET enable_progress_bar = false")
            if not read_only:
                self._ensure_schema(con)
            yield con
        except BaseException as exc:
            if self.shared:  # whatever failed, the next session starts on a new connection to the catalog
                _close(con)
                discard_lake_instances()
            if not isinstance(exc, (duckdb.TransactionException, duckdb.FatalException, duckdb.InternalException)):
                raise
            # on a shared warehouse a fatal or internal error at commit is DuckLake losing a race with a concurrent
            # commit (seen here; duckdb/ducklake#1198): the step's transaction did not commit, it may run again
            racing = self.shared and isinstance(exc, (duckdb.FatalException, duckdb.InternalException))
            if not (racing or is_write_conflict(exc)):
                if isinstance(exc, duckdb.FatalException):
                    self._close_run_instance()  # DuckDB invalidated the instance: a later step opens the file afresh
                raise
            # a concurrent run committed first: the step runs again on its rows (every step is safe to re-run)

            raise dg.RetryRequested(max_retries=CONFLICT_RETRIES, seconds_to_wait=1 + 4 * random.random()) from exc
        finally:
            _close(con)


def _close(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    except duckdb.FatalException:  # an invalidated instance: closing it has nothing left to do
        pass
