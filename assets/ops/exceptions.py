"""``ops.exceptions``: one row per (layer, source, object, record, rule), resolved rather than deleted."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

COLUMNS = ["record_key", "rule", "message", "owner", "file", "row_number"]


def record_exceptions(con: duckdb.DuckDBPyConnection, layer: str, source: str, obj: str, rows: list[tuple],
                      seen: datetime, resolve_others: bool = False) -> None:
    """Upsert exceptions given as Python tuples (record_key, rule, message, owner, file, row_number) seen now."""
    frame = pl.DataFrame(rows, schema={"record_key": pl.Utf8, "rule": pl.Utf8, "message": pl.Utf8, "owner": pl.Utf8,
                                       "file": pl.Utf8, "row_number": pl.Int64}, orient="row")
    con.register("_exc_rows", frame.to_arrow())
    try:
        record_exceptions_from(con, layer, source, obj, "SELECT * FROM _exc_rows", [], seen, resolve_others)
    finally:
        con.unregister("_exc_rows")


def record_exceptions_from(con: duckdb.DuckDBPyConnection, layer: str, source: str, obj: str, query: str,
                           params: list | dict, seen: datetime, resolve_others: bool = False) -> None:
    """Upsert the exceptions a query yields (columns named as ``COLUMNS``) seen now, without leaving the
    database; with ``resolve_others``, every open exception of this (layer, source, object) not seen now is
    resolved."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _exc AS SELECT {', '.join(COLUMNS)} FROM ({query})", params)
    con.execute("""
        INSERT INTO ops.exceptions
        SELECT ?, ?, ?, record_key, rule, message, owner, file, row_number, ?, ?, NULL FROM _exc
        ON CONFLICT (layer, source, object, record_key, rule) DO UPDATE SET
            message = excluded.message, owner = excluded.owner, last_seen = excluded.last_seen,
            file = excluded.file, row_number = excluded.row_number, resolved_at = NULL
        """, [layer, source, obj, seen, seen])
    if resolve_others:
        con.execute("""
            UPDATE ops.exceptions e SET resolved_at = ?
            WHERE layer = ? AND source = ? AND object = ? AND resolved_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM _exc x WHERE x.record_key = e.record_key AND x.rule = e.rule)
            """, [seen, layer, source, obj])
    con.execute("DROP TABLE _exc")
