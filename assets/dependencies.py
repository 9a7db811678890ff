"""Asset dependencies read from the SQL each asset runs (resources.sql_reads), never declared by hand.

A table or as-of macro a query reads maps to the asset that builds it. ``billing.ledger`` maps to none: it is
the state of batches of other dates (recon reads earlier ones, billing its own), not an input of this date.
"""

from __future__ import annotations

import dagster as dg

from assets.canonical.entities import ENTITIES
from resources.sql_reads import tables_read
from resources.warehouse import sql_text

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


def reads_of(*sql_names: str) -> set[dg.AssetKey]:
    """The assets whose tables the SQL files ``sql/<name>.sql`` read."""
    keys = {asset_key_of(t) for name in sql_names for t in tables_read(sql_text(name))}
    return {k for k in keys if k is not None}


def deps_of(*sql_names: str, also: tuple[str, ...] = (), itself: dg.AssetKey | None = None) -> list[dg.AssetKey]:
    """Dependencies of an asset that runs these SQL files (plus ``also``, as 'layer/name'), sorted."""
    keys = reads_of(*sql_names) | {dg.AssetKey(a.split("/")) for a in also}
    return sorted(keys - {itself}, key=lambda k: k.to_user_string())
