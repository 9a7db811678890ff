"""Mart assets, one partition per as-of date (the marts per project over reconciliation: one per as-of date and legal
entity), each with its expectation suite as an asset check."""

import time
from dataclasses import dataclass
from datetime import date

import dagster as dg

from assets.common import TEAM, is_latest_as_of, one_transaction, write_as_of, write_by_entity, writer_pool
from assets.dependencies import deps_of
from assets.marts.publish import publish_snapshot
from assets.partitions import ONE_RUN_PER_BACKFILL, as_of_partitions, by_date, entity_partitions, entity_partitions_of
from assets.versions import split_by_entity
from checks.gx_suites import validate_mart
from resources import Warehouse
from resources.columns import column_schema
from resources.outputs import ANALYST_SNAPSHOT, OutputFolder
from resources.quality import DataQuality
from resources.settings import PssyncSettings
from resources.warehouse import sql_text, table_exists


@dataclass(frozen=True)
class Mart:
    """A mart; its dependencies are read from its SQL (assets.dependencies)."""

    name: str
    owner: str
    description: str
    by_entity: bool = False  # a row per project: split by the project's legal entity, like reconciliation


# a mart row written before the marts were split by legal entity: its project's entity as the PSA has it now
PROJECT_ENTITY = "(SELECT max(p.legal_entity) FROM canonical.project p WHERE p.project_code = r.project_code)"


MARTS = (
    Mart(
        "utilization_weekly",
        "delivery",
        "Per employee and ISO week (Monday): capacity from HR (weekly hours / 5 per working day within employment, "
        "public holidays excluded, attributes in force that day), time off, available hours, billable and "
        "non-billable hours of live-approved entries, and utilization (hours / available; NULL when nothing is "
        "available).",
    ),
    Mart(
        "realization_monthly",
        "finance",
        "Per project and month of work: billable hours, standard value (hours at the undiscounted rate), billed "
        "value (net billed lines plus milestones), realization (billed / standard) and write-down, with "
        "reporting-currency twins, and the project's legal entity.",
        by_entity=True,
    ),
    Mart(
        "project_margin",
        "finance",
        "Per project and month: revenue (billed value) against labor cost (hours x the worker's cost rate in force "
        "on the work date), in the reporting currency, with margin and margin %.",
        by_entity=True,
    ),
    Mart(
        "unbilled_wip",
        "finance",
        "Per project: approved billable work not yet invoiced, by age since approval (0-30, 31-60, 61-90, 90+ days), "
        "and the leakage total (older than 30 days, or not billable as things stand).",
        by_entity=True,
    ),
    Mart(
        "invoice_cycle",
        "finance",
        "Per invoice: earliest work date and approval on it, days from approval and from work to invoice, days to "
        "paid in full (NULL while unpaid).",
    ),
    Mart(
        "backlog",
        "delivery",
        "Per root contract with a not-to-exceed cap: NTE hours and their value at the expected rates, billed to "
        "date, and what remains.",
    ),
    Mart(
        "staffing_forecast",
        "delivery",
        "Per month, role and region: probability-weighted demand of open deals at or above PSSYNC_STAFFING_THRESHOLD, "
        "capacity of active workers, hours already assigned in the PSA, and the gap.",
    ),
)


def mart_params(as_of: date, settings: PssyncSettings) -> dict:
    return {"as_of": as_of, "reporting": settings.reporting_currency, "threshold": settings.staffing_threshold}


def write_mart(con, mart: Mart, as_of: date, entities: list[str] | None, settings: PssyncSettings) -> int:
    """Write one as-of date of a mart in one transaction (legal entities ``entities``' parts of a mart split by
    entity); returns its rows."""
    with one_transaction(con):
        return _write_mart_rows(con, mart, as_of, entities, settings)


def _write_mart_rows(con, mart: Mart, as_of: date, entities: list[str] | None, settings: PssyncSettings) -> int:
    table = f"marts.{mart.name}"
    if entities is None:
        return write_as_of(con, table, f"marts/{mart.name}", mart_params(as_of, settings))
    split_by_entity(con, table, entity_of=PROJECT_ENTITY)  # a warehouse written before the split
    query = sql_text(f"marts/{mart.name}")
    return sum(write_by_entity(con, table, query, mart_params(as_of, settings), as_of, entities).values())


def ensure_entity_mart_views(con, as_of: date, settings: PssyncSettings) -> None:
    """The firm-wide names of the marts split by legal entity, typed and empty, where no entity has written a part
    yet (a first date no entity settles). The caller holds the transaction."""
    for mart in MARTS:  # in order: a mart may read one listed before it
        if mart.by_entity and not table_exists(con, f"marts.{mart.name}"):
            _write_mart_rows(con, mart, as_of, [], settings)


def build_mart_asset(mart: Mart) -> dg.AssetsDefinition:
    key = dg.AssetKey(["marts", mart.name])
    split = (
        " Per legal entity: each (date, entity) partition writes the rows of the entity's projects to a table of its "
        f"own (`marts.{mart.name}__le_<entity>`), after the entity's reconciliation and billing; `marts.{mart.name}` "
        "is the firm-wide view over them."
        if mart.by_entity
        else ""
    )

    # no writer pool for a mart split by entity: an entity's step writes only its entity's part
    @dg.asset(
        key=key,
        group_name="marts",
        pool=None if mart.by_entity else writer_pool(key),
        partitions_def=entity_partitions if mart.by_entity else as_of_partitions,
        backfill_policy=ONE_RUN_PER_BACKFILL if mart.by_entity else None,
        deps=deps_of(f"marts/{mart.name}", itself=key),
        owners=[TEAM[mart.owner]],
        kinds={"duckdb", "sql"},
        tags={"layer": "marts"},
        metadata={
            "dagster/column_schema": column_schema(f"marts/{mart.name}"),
            "dagster/table_name": f"marts.{mart.name}",
        },
        description=(
            f"`marts.{mart.name}`: {mart.description}{split} SQL: `sql/marts/{mart.name}.sql`; formulas in "
            "docs/marts.md."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "expectations",
                asset=key,
                description=f"great-expectations suite marts_{mart.name}; Data Docs in "
                "<PSSYNC_OUTPUT_DIR>/data_quality",
            )
        ],
    )
    def mart_asset(
        context: dg.AssetExecutionContext, warehouse: Warehouse, quality: DataQuality, settings: PssyncSettings
    ):
        if mart.by_entity:
            dates = by_date(entity_partitions_of(context))
        else:
            dates = [(date.fromisoformat(context.partition_key), None)]
        rows, outcomes, quality_seconds = 0, [], 0.0
        with warehouse.connect() as con:
            for as_of, entities in dates:
                rows += write_mart(con, mart, as_of, entities, settings)
                started = time.perf_counter()
                outcomes.append(validate_mart(con, quality, "marts", mart.name, as_of, entities))
                quality_seconds += time.perf_counter() - started
        docs = dg.MetadataValue.path(outcomes[-1].docs_index)
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "as_of": ", ".join(d.isoformat() for d, _ in dates),
                **({"legal_entities": ", ".join(sorted({e for _, es in dates for e in es}))} if mart.by_entity else {}),
                "dagster/column_schema": column_schema(f"marts/{mart.name}"),
                "data_docs": docs,
                "quality_seconds": round(quality_seconds, 3),
            }
        )
        yield dg.AssetCheckResult(
            check_name="expectations",
            asset_key=key,
            passed=all(o.success for o in outcomes),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "failed": [f for o in outcomes for f in o.failed] or ["none"],
                "evaluated": sum(o.evaluated for o in outcomes),
                "data_docs": docs,
            },
        )

    return mart_asset


mart_assets = [build_mart_asset(m) for m in MARTS]

ENTITY_MARTS = dg.AssetSelection.assets(*[dg.AssetKey(["marts", m.name]) for m in MARTS if m.by_entity])
"""The marts partitioned by (as-of date, legal entity): run in each entity's settling, after its billing."""

PUBLISHED = dg.AssetKey(["marts", "published_snapshot"])


@dg.asset(
    key=PUBLISHED,
    group_name="marts",
    pool=writer_pool(PUBLISHED),
    partitions_def=as_of_partitions,
    deps=[dg.AssetKey(["marts", m.name]) for m in MARTS]
    + [
        dg.AssetKey(["billing", "batches"]),
        dg.AssetKey(["recon", "billing_line_exceptions"]),
        dg.AssetKey(["recon", "contractor_hours"]),
    ],
    owners=[TEAM["integration"]],
    kinds={"duckdb"},
    tags={"layer": "marts"},
    description="The read-only snapshot analysts query while syncs write: "
    "`<PSSYNC_OUTPUT_DIR>/published/pssync.duckdb`, "
    "the marts, recon and billing tables of the newest as-of date plus ops.sync_runs and ops.exceptions, "
    "written to a new file and renamed over the old one. See docs/analysts.md.",
)
def published_snapshot(context: dg.AssetExecutionContext, warehouse: Warehouse, outputs: OutputFolder):
    as_of = date.fromisoformat(context.partition_key)
    target = outputs.file("published", ANALYST_SNAPSHOT)
    with warehouse.connect() as con:
        if not is_latest_as_of(con, "marts.utilization_weekly", as_of):
            return dg.MaterializeResult(
                metadata={"published": False, "reason": "a later as-of date is already published"}
            )
        publish_snapshot(con, as_of, target)
    return dg.MaterializeResult(
        metadata={"published": True, "path": dg.MetadataValue.path(str(target)), "as_of": as_of.isoformat()}
    )


marts_assets = [*mart_assets, published_snapshot]
