"""The DuckDB warehouse: one file holding every layer, and the SQL files that build it."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def sql_text(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def bound_params(query: str, params: dict) -> dict:
    """The named parameters a query uses (DuckDB refuses parameters a statement does not reference)."""
    from resources.sql_reads import parameters

    used = parameters(query)
    return {k: v for k, v in params.items() if k in used}


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``schema.name`` exists in the connection's own database (not in one attached to it)."""
    schema, name = table.split(".")
    return (
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
        > 0
    )


_stopping = threading.Event()


def request_stop() -> None:
    """A stop was asked for (SIGTERM): the query in progress is interrupted by DuckDB and rolls back, and no
    later step opens the warehouse, so the run ends instead of going on without the interrupted step."""
    _stopping.set()


def stop_requested() -> bool:
    return _stopping.is_set()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create or upgrade the schemas, operational tables and macros (sql/ddl), unless this file already has
    exactly this version of them: every step opens its own session, and re-running the DDL each time cost
    a tenth of a second per step."""
    import hashlib

    ddl = sql_text("ddl/ops") + "\n" + sql_text("ddl/macros")
    version = hashlib.sha256(ddl.encode()).hexdigest()
    try:
        if con.execute("SELECT version FROM ops.ddl_version").fetchall() == [(version,)]:
            return
    except duckdb.CatalogException:
        pass
    con.execute(sql_text("ddl/ops"))
    con.execute(sql_text("ddl/macros"))
    con.execute("CREATE OR REPLACE TABLE ops.ddl_version AS SELECT ? AS version", [version])


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file at ``PSSYNC_WAREHOUSE``. One writer at a time: jobs that write it run in process
    and one run at a time (see docs/operations.md)."""

    path: str
    memory_limit: str = "4GB"  # PSSYNC_DUCKDB_MEMORY_LIMIT

    @contextmanager
    def connect(self, read_only: bool = False):
        if _stopping.is_set():
            raise KeyboardInterrupt("pssync is stopping")
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": self.memory_limit})
        try:
            con.execute("SET enable_progress_bar = false")
            if not read_only:
                ensure_schema(con)
            yield con
        finally:
            con.close()
