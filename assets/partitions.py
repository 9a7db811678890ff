"""Partitions: the as-of business date of recon and billing runs, and the legal entity that reconciliation and billing
are split by."""

import warnings
from collections.abc import Sequence
from datetime import date

import dagster as dg

from resources.settings import current

PARTITION_START = current().partition_start  # PSSYNC_PARTITION_START, read when the code location loads

as_of_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1)
"""One partition per as-of date D: the run sees every source record as it stood at the end of D (UTC).
The nightly sync settles yesterday; today's partition exists for the hourly intraday reconciliation."""

LEGAL_ENTITY = "legal_entity"  # the dynamic partitions of the legal entities, registered as they first bill
legal_entities = dg.DynamicPartitionsDefinition(name=LEGAL_ENTITY)
"""The legal entities that settle: added to the instance, as the projects of a date name them, before that date's
entity runs (`sql/billing/billable_entities.sql`), so an entity acquired tomorrow needs no code change."""

entity_partitions = dg.MultiPartitionsDefinition({"as_of": as_of_partitions, "legal_entity": legal_entities})
"""Reconciliation and billing run once per (as-of date, legal entity): the entities of a date reconcile and emit
their batches side by side, each in tables and a transaction of its own, and firm-wide tables and views
(`recon.time_to_bill`, `billing.batches`) hold them all."""


# Dagster marks the parameter beta; we depend on it knowingly, and the warning would otherwise follow every command
# that loads the jobs (`pssync run --help` included) onto stderr
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
ONE_RUN_PER_BACKFILL = dg.BackfillPolicy.single_run()
"""A backfill of entity partitions runs as one run over the range: each step reads and writes every date and entity of
the range in one pass (`entity_partitions_of`) instead of one run per partition."""


def entity_key(as_of: str, entity: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"as_of": as_of, "legal_entity": entity})


def every_entity_of_date(as_of: str, registered: Sequence[str]) -> dict[str, str]:
    """The run tags of the partition range that holds every legal entity of one date: a date's partitions are
    contiguous, in the order the entities were added to the instance (``registered``, as the instance lists them)."""
    return {
        "dagster/asset_partition_range_start": str(entity_key(as_of, registered[0])),
        "dagster/asset_partition_range_end": str(entity_key(as_of, registered[-1])),
    }


def entity_partitions_of(context: dg.AssetExecutionContext) -> list[tuple[date, str]]:
    """The (as-of date, legal entity) pairs of an entity step, dates in order: one pair in a run of one partition
    (what the entity sensor launches, one per entity, side by side), every entity of a date in a run of a
    partition range (what `pssync run` starts: one run per date, entities together)."""
    keys = [entity_partitions.get_partition_key_from_str(str(k)).keys_by_dimension for k in context.partition_keys]
    return sorted((date.fromisoformat(k["as_of"]), k["legal_entity"]) for k in keys)


def by_date(pairs: list[tuple[date, str]]) -> list[tuple[date, list[str]]]:
    """(as-of date, its legal entities), dates in order."""
    return [(d, sorted({e for x, e in pairs if x == d})) for d in sorted({d for d, _ in pairs})]
