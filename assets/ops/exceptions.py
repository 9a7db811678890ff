"""``ops.exceptions``: one row per (layer, source, object, record, rule), resolved rather than deleted."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from resources.warehouse import sql_text

COLUMNS = ["record_key", "rule", "message", "owner", "file", "row_number"]


def record_exceptions(
    con: duckdb.DuckDBPyConnection,
    layer: str,
    source: str,
    obj: str,
    rows: list[tuple],
    seen: datetime,
    resolve_others: bool = False,
) -> None:
    """Upsert exceptions given as Python tuples (record_key, rule, message, owner, file, row_number) seen now."""
    frame = pl.DataFrame(
        rows,
        schema={
            "record_key": pl.Utf8,
            "rule": pl.Utf8,
            "message": pl.Utf8,
            "owner": pl.Utf8,
            "file": pl.Utf8,
            "row_number": pl.Int64,
        },
        orient="row",
    )
    con.register("_exc_rows", frame.to_arrow())
    try:
        record_exceptions_from(con, layer, source, obj, "SELECT * FROM _exc_rows", [], seen, resolve_others)
    finally:
        con.unregister("_exc_rows")


def record_exceptions_from(
    con: duckdb.DuckDBPyConnection,
    layer: str,
    source: str,
    obj: str,
    query: str,
    params: list | dict,
    seen: datetime,
    resolve_others: bool = False,
    within: str | None = None,
) -> None:
    """Upsert the exceptions a query yields (columns named as ``COLUMNS``) seen now, without leaving the
    database; with ``resolve_others``, every open exception of this (layer, source, object) not seen now is
    resolved, or with ``within`` (a query of record keys: the query looked at those only) every such one of those
    records."""
    # one row per (record, rule): a record broken the same way in several files or snapshots is one exception,
    # named by its latest file
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _exc AS SELECT {", ".join(COLUMNS)} FROM ({query})
        QUALIFY row_number() OVER (PARTITION BY record_key, rule ORDER BY file DESC NULLS LAST, row_number, message) = 1
        """,
        params,
    )
    scope = "e.layer = $layer AND e.source = $source AND e.object = $object"
    keys = {"layer": layer, "source": source, "object": obj}
    # An upsert rewrites every seen row; most are unchanged from the last run, and rewriting their text columns
    # is what costs (DuckDB updates VARCHARs slowly), so changed rows, the time seen and new rows go separately.
    con.execute(
        f"""
        UPDATE ops.exceptions e SET message = x.message, owner = x.owner, file = x.file, row_number = x.row_number,
                                    resolved_at = NULL
        FROM _exc x
        WHERE {scope} AND e.record_key = x.record_key AND e.rule = x.rule
          AND (e.message IS DISTINCT FROM x.message OR e.owner IS DISTINCT FROM x.owner
               OR e.file IS DISTINCT FROM x.file
               OR e.row_number IS DISTINCT FROM x.row_number OR e.resolved_at IS NOT NULL)
        """,
        keys,
    )
    con.execute(
        f"UPDATE ops.exceptions e SET last_seen = $seen WHERE {scope} "
        "AND (e.record_key, e.rule) IN (SELECT record_key, rule FROM _exc)",
        {**keys, "seen": seen},
    )
    con.execute(
        f"""
        INSERT INTO ops.exceptions
        SELECT $layer, $source, $object, record_key, rule, message, owner, file, row_number, $seen, $seen, NULL
        FROM _exc x
        WHERE NOT EXISTS (SELECT 1 FROM ops.exceptions e
                          WHERE {scope} AND e.record_key = x.record_key AND e.rule = x.rule)
        """,
        {**keys, "seen": seen},
    )
    if resolve_others:
        looked_at = f"AND e.record_key IN ({within})" if within else ""
        con.execute(
            f"""
            UPDATE ops.exceptions e SET resolved_at = $seen
            WHERE {scope} AND e.resolved_at IS NULL
              AND (e.record_key, e.rule) NOT IN (SELECT record_key, rule FROM _exc) {looked_at}
            """,
            {**keys, "seen": seen},
        )
    con.execute("DROP TABLE _exc")


def open_exceptions(con: duckdb.DuckDBPyConnection, as_of) -> pl.DataFrame:
    """The open exceptions as of a reconciled date: the one definition (``sql/reports/open_exceptions.sql``)
    that ``pssync exceptions``, the report and the demo summary all count."""
    return con.sql(sql_text("reports/open_exceptions"), params={"as_of": as_of}).pl()


OPEN_EXCEPTIONS_MEANING = (
    "flagged time entries, unmatched invoice lines, contractor-hours gaps, billing holds and "
    "open data-quality exceptions"
)
