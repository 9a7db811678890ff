"""What a SQL model reads and which parameters it takes, read from the SQL itself (sqlglot, DuckDB dialect).

One place derives an asset's dependencies from the tables and as-of macros its SQL reads, so a query that
starts reading a table cannot run before that table is built; ``bound_params`` binds exactly the parameters a
statement uses (comments do not count).
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
import sqlglot.expressions as exp

# schemas whose tables are built by assets; ops and quarantine hold run state, not asset outputs
ASSET_SCHEMAS = {"raw", "canonical", "recon", "billing", "marts"}


@lru_cache(maxsize=256)
def _parsed(text: str) -> exp.Expr:
    return sqlglot.parse_one(text, read="duckdb")


@lru_cache(maxsize=256)
def tables_read(text: str) -> frozenset[str]:
    """``schema.name`` of every table, view or table macro in an asset schema that a query reads."""
    found = set()
    for table in _parsed(text).find_all(exp.Table):
        if table.db in ASSET_SCHEMAS:
            name = table.this.name if isinstance(table.this, exp.Anonymous) else table.name
            found.add(f"{table.db}.{name}")
    return frozenset(found)


@lru_cache(maxsize=256)
def functions_called(text: str) -> frozenset[str]:
    """The names of the functions and macros a query calls (besides DuckDB's known built-ins)."""
    return frozenset(f.name for f in _parsed(text).find_all(exp.Anonymous))


def macros_defined(text: str) -> dict[str, str]:
    """Each ``CREATE [OR REPLACE] MACRO name(...) AS body`` of a SQL file: name -> body."""
    found = re.finditer(r"CREATE\s+(?:OR\s+REPLACE\s+)?MACRO\s+(\w+)\s*\([^)]*\)\s+AS\s+(.*?);", text, re.S | re.I)
    return {m.group(1): m.group(2) for m in found}


@lru_cache(maxsize=256)
def parameters(text: str) -> frozenset[str]:
    """The named parameters (``$name``) a statement uses."""
    return frozenset(p.name for p in _parsed(text).find_all(exp.Placeholder) if p.name)
