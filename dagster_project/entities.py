"""The legal entities that bill on a date: the partitions of the entity_settle runs."""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.billing.emit import billable_entities
from assets.partitions import LEGAL_ENTITY
from resources.warehouse import open_warehouse


def entities_of_date(warehouse: str, as_of: date) -> list[str]:
    """The legal entities that bill on ``as_of`` (sql/billing/billable_entities.sql), read from the warehouse."""
    con = open_warehouse(warehouse, read_only=True)
    try:
        return billable_entities(con, as_of)
    finally:
        con.close()


def register_entities(where: dg.DagsterInstance, as_of: date, warehouse: str) -> list[str]:
    """The legal entities that bill on ``as_of``, added to the instance's legal_entity partitions."""
    entities = entities_of_date(warehouse, as_of)
    known = set(where.get_dynamic_partitions(LEGAL_ENTITY))
    if set(entities) - known:
        where.add_dynamic_partitions(LEGAL_ENTITY, sorted(set(entities) - known))
    return entities
