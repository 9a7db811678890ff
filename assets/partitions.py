"""Partitions: the as-of business date of recon and billing runs, and the legal entity billing is split by."""

import dagster as dg

from resources.settings import current

PARTITION_START = current().partition_start  # PSSYNC_PARTITION_START, read when the code location loads

as_of_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1)
"""One partition per as-of date D: the run sees every source record as it stood at the end of D (UTC).
The nightly sync settles yesterday; today's partition exists for the hourly intraday reconciliation."""

legal_entities = dg.DynamicPartitionsDefinition(name="legal_entity")
"""The legal entities that bill: added to the instance, as the projects of a date name them, before that date's
billing runs (`sql/billing/billable_entities.sql`), so an entity acquired tomorrow needs no code change."""

billing_partitions = dg.MultiPartitionsDefinition({"as_of": as_of_partitions, "legal_entity": legal_entities})
"""Billing runs once per (as-of date, legal entity): the entities of a date emit their batches side by side, each
in a transaction of its own, and a firm-wide table (`billing.batches`) holds them all."""


def billing_key(as_of: str, entity: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"as_of": as_of, "legal_entity": entity})


def every_entity_of_date(as_of: str, registered: list[str]) -> dict[str, str]:
    """The run tags of the partition range that holds every legal entity of one date: a date's partitions are
    contiguous, in the order the entities were added to the instance (``registered``, as the instance lists them)."""
    return {
        "dagster/asset_partition_range_start": str(billing_key(as_of, registered[0])),
        "dagster/asset_partition_range_end": str(billing_key(as_of, registered[-1])),
    }
