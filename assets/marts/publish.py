"""The read-only snapshot analysts query while syncs write: a separate DuckDB file, swapped atomically."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from assets.versions import VERSIONED, entity_parts
from resources.warehouse import table_exists

PUBLISHED = [
    ("marts", t)
    for t in (
        "utilization_weekly",
        "realization_monthly",
        "project_margin",
        "unbilled_wip",
        "invoice_cycle",
        "backlog",
        "staffing_forecast",
    )
] + [
    ("recon", "time_to_bill"),
    ("recon", "billing_line_exceptions"),
    ("recon", "contractor_hours"),
    ("recon", "billing_holds"),
    ("billing", "batches"),
    ("billing", "batch_lines"),
]


def publish_snapshot(con: duckdb.DuckDBPyConnection, as_of: date, target: Path) -> Path:
    """Copy the as-of rows of every published table, and ops.sync_runs / ops.exceptions, into a new file,
    then rename it over ``target``. Sessions already reading the old file keep their snapshot; new ones
    see the new file; nobody ever sees a half-written one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    for p in (tmp, Path(f"{tmp}.wal")):
        if p.exists():
            p.unlink()
    con.execute(f"ATTACH '{tmp}' AS pub")
    try:
        for schema in ("marts", "recon", "billing", "ops"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS pub.{schema}")
        for schema, table in PUBLISHED:
            if table_exists(con, f"{schema}.{table}"):
                order = _copy_order(con, f"{schema}.{table}")
                con.execute(
                    f"CREATE TABLE pub.{schema}.{table} AS SELECT * FROM {schema}.{table} WHERE as_of_date = ?{order}",
                    [as_of],
                )
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
