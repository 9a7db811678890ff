"""The DuckDB warehouse: one file holding every layer, and the SQL files that build it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def sql_text(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file at ``PSSYNC_WAREHOUSE``. One writer at a time: jobs that write it run in process
    and one run at a time (see docs/operations.md)."""

    path: str
    memory_limit: str = os.environ.get("PSSYNC_DUCKDB_MEMORY_LIMIT", "6GB")

    @contextmanager
    def connect(self, read_only: bool = False):
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": self.memory_limit})
        try:
            con.execute("SET enable_progress_bar = false")
            if not read_only:
                con.execute(sql_text("ddl/ops"))
            yield con
        finally:
            con.close()
