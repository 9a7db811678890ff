"""Asset dependencies read from the SQL each asset runs (resources.sql_reads), never declared by hand.

A table or as-of macro a query reads maps to the asset that builds it. ``billing.ledger`` maps to none: it is
the state of batches of other dates (recon reads earlier ones, billing its own), not an input of this date.
"""

from __future__ import annotations

import dagster as dg

from assets.canonical.entities import ENTITIES
from resources.sql_reads import functions_called, macros_defined, tables_read
from resources.warehouse import SQL_DIR, sql_text

# tables written by an asset of another name
WRITTEN_BY = {"recon.cap_usage": ("recon", "time_to_bill")}
CARRIED_STATE = {"billing.ledger"}


def asset_key_of(table: str) -> dg.AssetKey | None:
    """The asset that builds ``schema.name`` (a table, view or as-of macro), or None for carried state."""
    if table in CARRIED_STATE:
        return None
    if table in WRITTEN_BY:
        return dg.AssetKey(list(WRITTEN_BY[table]))
    schema, name = table.split(".")
    if schema != "canonical":
        return dg.AssetKey([schema, name])
    if name.startswith("xwalk_"):
        return dg.AssetKey(["canonical", "crosswalks"])
    base = name.removesuffix("_asof").removesuffix("_history")
    for entity in ENTITIES:
        if base in (entity.name, entity.view_name, *entity.derived):
            return dg.AssetKey(["canonical", entity.name])
    raise ValueError(f"{table}: no canonical asset builds it")


def macro_reads() -> dict[str, frozenset[str]]:
    """The tables each scalar macro over a canonical table reads (``sql/canonical/*_macros.sql``), those of the
    macros it calls included: a query that calls one reads them too."""
    bodies = {
        name: body
        for path in sorted((SQL_DIR / "canonical").glob("*_macros.sql"))
        for name, body in macros_defined(path.read_text(encoding="utf-8")).items()
    }
    reads = {name: set(tables_read(f"SELECT {body}")) for name, body in bodies.items()}
    for _ in bodies:  # to a fixed point: a macro reads what the macros it calls read
        for name, body in bodies.items():
            for called in functions_called(f"SELECT {body}") & bodies.keys():
                reads[name] |= reads[called]
    return {name: frozenset(tables) for name, tables in reads.items()}


MACRO_READS = macro_reads()


def tables_of(text: str) -> set[str]:
    """The tables a query reads, itself or through the macros it calls."""
    through = (MACRO_READS[f] for f in functions_called(text) if f in MACRO_READS)
    return set(tables_read(text)).union(*through)


def reads_of(*sql_names: str) -> set[dg.AssetKey]:
    """The assets whose tables the SQL files ``sql/<name>.sql`` read."""
    keys = {asset_key_of(t) for name in sql_names for t in tables_of(sql_text(name))}
    return {k for k in keys if k is not None}


def deps_of(*sql_names: str, also: tuple[str, ...] = (), itself: dg.AssetKey | None = None) -> list[dg.AssetKey]:
    """Dependencies of an asset that runs these SQL files (plus ``also``, as 'layer/name'), sorted."""
    keys = reads_of(*sql_names) | {dg.AssetKey(a.split("/")) for a in also}
    return sorted(keys - {itself}, key=lambda k: k.to_user_string())
