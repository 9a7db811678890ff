"""The read-only snapshots read while syncs write: separate DuckDB files, each swapped atomically.

``pssync.duckdb`` is what analysts query (``pssync query``): it never holds HR cost rates or what is computed from
them. ``restricted.duckdb`` holds those tables (``RESTRICTED``) for the roles that see costs (finance, hr, admin),
read by the workbench only."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from assets.versions import VERSIONED, entity_parts
from resources.outputs import PUBLISHED, RESTRICTED, RESTRICTED_SNAPSHOT
from resources.warehouse import table_exists


def publish_snapshot(con: duckdb.DuckDBPyConnection, as_of: date, target: Path) -> Path:
    """Copy the as-of rows of every published table but the restricted ones, and ops.sync_runs / ops.exceptions,
    into a new file, then rename it over ``target``; the restricted tables go the same way to
    ``restricted.duckdb`` beside it. Sessions already reading the old file keep their snapshot; new ones
    see the new file; nobody ever sees a half-written one."""
    _publish(con, as_of, target.with_name(RESTRICTED_SNAPSHOT), [t for t in PUBLISHED if t in RESTRICTED], ops=False)
    return _publish(con, as_of, target, [t for t in PUBLISHED if t not in RESTRICTED], ops=True)


def _publish(con: duckdb.DuckDBPyConnection, as_of: date, target: Path, tables: list, ops: bool) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    for p in (tmp, Path(f"{tmp}.wal")):
        if p.exists():
            p.unlink()
    con.execute(f"ATTACH '{tmp}' AS pub")
    try:
        for schema in ("marts", "recon", "billing", "ops"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS pub.{schema}")
        for schema, table in tables:
            if table_exists(con, f"{schema}.{table}"):
                order = _copy_order(con, f"{schema}.{table}")
                con.execute(
                    f"CREATE TABLE pub.{schema}.{table} AS SELECT * FROM {schema}.{table} WHERE as_of_date = ?{order}",
                    [as_of],
                )
        if ops:
            con.execute("CREATE TABLE pub.ops.sync_runs AS SELECT * FROM ops.sync_runs")
            con.execute("CREATE TABLE pub.ops.exceptions AS SELECT * FROM ops.exceptions")
        con.execute("CREATE TABLE pub.ops.published AS SELECT ?::DATE AS as_of_date, now() AS published_at", [as_of])
        con.execute("CHECKPOINT pub")
    finally:
        con.execute("DETACH pub")
    os.replace(tmp, target)
    return target


def _copy_order(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """How a published table's rows of one date are ordered in the snapshot. A table split by legal entity is a
    union of its parts: sorted, its rows are copied in one order whatever order the parts hold them in, and written
    out as they are copied (a union's rows were left for the checkpoint to compress: 0.5 s more for
    recon.time_to_bill at M; at L DuckDB writes the union as it copies and the sort costs about 4 s more, one rule
    kept for both: docs/deployment.md). A table kept as versions is sorted by its key within a date and the legal
    entity (one key in two parts, a project moved, is two rows): a total order, and cheaper than sorting on every
    column."""
    if not entity_parts(con, table):
        return ""
    spec = VERSIONED.get(table)
    if spec is None:
        return " ORDER BY ALL"
    return " ORDER BY " + ", ".join(f'"{c}"' for c in (*spec.key, "legal_entity"))
