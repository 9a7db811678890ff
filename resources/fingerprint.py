"""A fingerprint of what pssync publishes for a date: one digest per published table over every column of every
row, and one per billing file. Two warehouses that agree on it published the same thing (docs/deployment.md: the
shared mode is checked against the embedded one with it)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb

from resources.outputs import PUBLISHED
from resources.warehouse import table_exists


def table_digests(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, tuple[int, str]]:
    """(rows, MD5 over every column of every row, in a fixed order) of each published table at ``as_of``."""
    out = {}
    for schema, table in PUBLISHED:
        name = f"{schema}.{table}"
        if table_exists(con, name):
            out[name] = tuple(
                con.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(r, chr(10) ORDER BY r), '')) "
                    f"FROM (SELECT t::VARCHAR AS r FROM {name} AS t WHERE as_of_date = ?)",
                    [as_of],
                ).fetchall()[0]
            )
    return out


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by its path relative to it."""
    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
