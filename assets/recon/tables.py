"""Writing one as-of partition of a published table, atomically and reproducibly."""

from __future__ import annotations

from datetime import date

import duckdb

from resources.warehouse import sql_text


def write_partition(con: duckdb.DuckDBPyConnection, table: str, query_name: str, params: dict) -> int:
    """Replace the rows of ``table`` for ``params['as_of']`` with the result of ``sql/<query_name>.sql``.
    The caller holds the transaction."""
    query = sql_text(query_name)
    params = {k: v for k, v in params.items() if f"${k}" in query or k == "as_of"}
    con.execute(f"CREATE OR REPLACE TEMP TABLE _partition AS {query}", params)  # the query runs once
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM _partition LIMIT 0")
    con.execute(f"DELETE FROM {table} WHERE as_of_date = ?", [params["as_of"]])
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _partition")
    rows = con.execute("SELECT count(*) FROM _partition").fetchall()[0][0]
    con.execute("DROP TABLE _partition")
    return rows


def is_latest_as_of(con: duckdb.DuckDBPyConnection, table: str, as_of: date) -> bool:
    """True when no later as-of date has been written: only the newest business date updates ops.exceptions."""
    latest = con.execute(f"SELECT max(as_of_date) FROM {table}").fetchall()[0][0]
    return latest is None or as_of >= latest
