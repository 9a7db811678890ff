"""Giving a warehouse's free space back to the file system.

DuckDB reuses the blocks that deletes and updates free, but never shrinks its file (CHECKPOINT and VACUUM return
nothing). The one way to get the space back is to copy the database into a new file and put that in its place.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from resources.warehouse import LAKE, open_warehouse


class CompactionError(RuntimeError):
    """The copy does not hold what the warehouse holds: the warehouse is left as it was."""


def _counts(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND NOT temporary",
        [catalog],
    ).fetchall()
    return {f"{s}.{t}": con.execute(f'SELECT count(*) FROM {catalog}."{s}"."{t}"').fetchall()[0][0] for s, t in tables}


def compact(path: Path) -> tuple[int, int]:
    """Copy the warehouse at ``path`` into a new file (every schema, table, view and macro), check that every
    table holds as many rows, and swap the copy in. The caller holds the warehouse (no run may write it).
    Returns the file's size before and after, in bytes."""
    path = Path(path)
    copy = path.with_name(path.name + ".compacting")
    copy.unlink(missing_ok=True)
    duckdb.connect(str(path)).close()  # a clean close checkpoints whatever a killed run left in the WAL
    before = path.stat().st_size
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{copy}' AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
        want, got = _counts(con, "src"), _counts(con, "dst")
        views = [
            con.execute(
                "SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND NOT internal", [catalog]
            ).fetchall()[0][0]
            for catalog in ("src", "dst")
        ]
        con.execute("DETACH dst")
    finally:
        con.close()
    if want != got or views[0] != views[1]:
        copy.unlink(missing_ok=True)
        differ = sorted(t for t in want.keys() | got.keys() if want.get(t) != got.get(t))
        raise CompactionError(f"the copy differs from {path} ({', '.join(differ) or 'views'}); nothing was changed")
    os.replace(copy, path)
    return before, path.stat().st_size


LAKE_SNAPSHOTS_KEPT = "30 days"


def compact_lake(target: str) -> tuple[int, int]:
    """The shared warehouse's maintenance (DuckLake's CHECKPOINT): expire snapshots older than 30 days (time travel
    before them ends; every as-of date stays in the tables), merge small Parquet files, rewrite files mostly deleted,
    and remove the files no snapshot references. Safe while runs write: it commits like any writer. Returns the
    data files' bytes before and after."""
    con = open_warehouse(target)
    try:
        folder = con.execute(f"SELECT value FROM __ducklake_metadata_{LAKE}.ducklake_metadata WHERE key = 'data_path'")
        root = Path(folder.fetchall()[0][0])
        before = _bytes(root)
        con.execute(f"CALL {LAKE}.set_option('expire_older_than', '{LAKE_SNAPSHOTS_KEPT}')")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return before, _bytes(root)


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
