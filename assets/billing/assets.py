"""Billing assets, one partition per as-of date: batch lines and headers, then batch files and staging."""

from datetime import date

import dagster as dg

from assets import published_columns
from assets.dependencies import deps_of
from assets.billing.emit import compute_and_record, write_files
from assets.billing.release import free_rejected_keys, released_lines
from assets.common import TEAM, now_utc, writer_pool
from checks.gx_suites import validate_mart
from assets.partitions import as_of_partitions
from resources import Warehouse
from resources.erp_staging import ErpStaging
from resources.outputs import OutputFolder
from resources.quality import DataQuality
from resources.settings import PssyncSettings
from workbench.batches import mark_published, register, to_publish
from workbench.store import open_store

BATCH_LINES = dg.AssetKey(["billing", "batch_lines"])
BATCHES = dg.AssetKey(["billing", "batches"])
BATCH_FILES = dg.AssetKey(["billing", "batch_files"])
ERP_PUBLICATION = dg.AssetKey(["billing", "erp_publication"])


def preview(batches: list[dict]) -> str:
    rows = ["| batch | lines | net | tax | gross |", "|---|---:|---:|---:|---:|"]
    rows += [
        f"| {b['batch_id']} | {b['line_count']} | {b['net_amount']:,.2f} | {b['tax_amount']:,.2f} | "
        f"{b['gross_amount']:,.2f} {b['currency']} |"
        for b in batches
    ]
    return "\n".join(rows)


@dg.multi_asset(
    pool=writer_pool(BATCHES),
    specs=[
        dg.AssetSpec(
            BATCH_LINES,
            group_name="billing",
            owners=[TEAM["finance"]],
            kinds={"duckdb", "sql"},
            metadata={
                "dagster/column_schema": published_columns.schema(published_columns.BATCH_LINES),
                "dagster/table_name": "billing.batch_lines",
            },
            deps=deps_of("billing/batch_lines", itself=BATCH_LINES),
            tags={"layer": "billing"},
            description="`billing.batch_lines`: every billable item of the as-of date that no batch of "
            "another date carries (time at the expected rate, capped where the cap says; "
            "adjustments for HOURS_MISMATCH at the billed rate; accepted milestones; approved "
            "billable expenses in the contract currency), taxed by the customer's tax code. "
            "Each (item, source id, source revision) key is recorded in `billing.ledger` and "
            "carried by exactly one batch, ever. SQL: `sql/billing/batch_lines.sql`.",
        ),
        dg.AssetSpec(
            BATCHES,
            group_name="billing",
            owners=[TEAM["finance"]],
            kinds={"duckdb", "sql"},
            metadata={
                "dagster/column_schema": published_columns.schema(published_columns.BATCHES),
                "dagster/table_name": "billing.batches",
            },
            deps=deps_of("billing/batches", itself=BATCHES),
            tags={"layer": "billing"},
            description="`billing.batches`: one batch per (legal entity, ERP customer, currency) and as-of "
            "date, id `BB-<entity>-<customer>-<currency>-<YYYYMMDD>`, totals summed from its "
            "rounded lines. SQL: `sql/billing/batches.sql`.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "batch_integrity",
            asset=BATCH_LINES,
            blocking=True,
            description="Before emission: totals equal the sum of lines, no key twice, no "
            "line for an entry recon flags, every line taxed.",
        ),
        dg.AssetCheckSpec(
            "expectations",
            asset=BATCHES,
            description="great-expectations suite billing_batches: one row per batch id, "
            "totals tie out to the batch lines; Data Docs in "
            "<PSSYNC_OUTPUT_DIR>/data_quality",
        ),
    ],
    partitions_def=as_of_partitions,
)
def batches(context: dg.AssetExecutionContext, warehouse: Warehouse, quality: DataQuality, settings: PssyncSettings):
    as_of = date.fromisoformat(context.partition_key)
    gx_error = None
    with warehouse.connect() as con:
        free_rejected_keys(con, settings.workflow, context.log)
        em = compute_and_record(con, as_of)
        try:  # the batches are committed: a failing quality tool must not keep their files from being written
            outcome = (
                validate_mart(con, quality, "billing", "batches", as_of) if em.batches and not em.problems else None
            )
        except Exception as exc:  # noqa: BLE001 - reported by the expectations check
            outcome, gx_error = (
                None,
                f"great-expectations could not run: {str(exc).splitlines()[0] if str(exc) else exc!r}",
            )
    n_lines = sum(len(v) for v in em.lines.values())
    yield dg.AssetCheckResult(
        check_name="batch_integrity",
        asset_key=BATCH_LINES,
        passed=not em.problems,
        metadata={"problems": em.problems or ["none"]},
    )
    if em.problems:
        raise RuntimeError(f"batch integrity failed for {as_of}; nothing was emitted: {em.problems}")
    yield dg.MaterializeResult(
        asset_key=BATCH_LINES, metadata={"dagster/row_count": n_lines, "replay": em.replay, "as_of": as_of.isoformat()}
    )
    yield dg.MaterializeResult(
        asset_key=BATCHES,
        metadata={
            "dagster/row_count": len(em.batches),
            "replay": em.replay,
            "net_total_by_currency": {
                c: str(sum(b["net_amount"] for b in em.batches if b["currency"] == c))
                for c in sorted({b["currency"] for b in em.batches})
            },
            "preview": dg.MetadataValue.md(preview(em.batches)),
        },
    )
    yield dg.AssetCheckResult(
        check_name="expectations",
        asset_key=BATCHES,
        passed=outcome.success if outcome else gx_error is None,
        metadata={
            "failed": (outcome.failed or ["none"]) if outcome else [gx_error or "no batches"],
            "data_docs": dg.MetadataValue.path(outcome.docs_index) if outcome else "",
        },
    )


@dg.asset(
    key=BATCH_FILES,
    group_name="billing",
    pool=writer_pool(BATCH_FILES),
    deps=[BATCHES],
    partitions_def=as_of_partitions,
    owners=[TEAM["finance"]],
    kinds={"json", "sqlalchemy"},
    tags={"layer": "billing"},
    description="One JSON file per batch at `<PSSYNC_OUTPUT_DIR>/billing_batches/<batch_id>.json` (header, lines, "
    "totals; written atomically, sorted and formatted deterministically); each batch is then registered `pending` "
    'in the workflow store, for a finance user to release or reject (docs/billing.md, "Release").',
)
def batch_files(
    context: dg.AssetExecutionContext, warehouse: Warehouse, outputs: OutputFolder, settings: PssyncSettings
) -> dg.MaterializeResult:
    as_of = date.fromisoformat(context.partition_key)
    with warehouse.connect() as con:
        em = compute_and_record(con, as_of)  # committed already: returns the stored lines
    paths = write_files(em, outputs)
    engine = open_store(settings.workflow)
    try:
        registered = register(engine, em.batches, now_utc())
    finally:
        engine.dispose()
    return dg.MaterializeResult(
        metadata={
            "files": paths[:50],
            "file_count": len(paths),
            "registered_pending": registered,
            "preview": dg.MetadataValue.md(preview(em.batches)),
        }
    )


@dg.asset(
    key=ERP_PUBLICATION,
    group_name="billing",
    pool=writer_pool(ERP_PUBLICATION),
    deps=[BATCH_FILES],
    partitions_def=as_of_partitions,
    owners=[TEAM["finance"]],
    kinds={"sqlalchemy"},
    tags={"layer": "billing"},
    description="Released batches (of any date) not yet published go to the ERP staging table "
    "(`PSSYNC_ERP_STAGING_URL`): one transaction per batch keyed by idempotency_key, so a repeated publish inserts "
    "nothing. A pending or rejected batch never reaches it.",
)
def erp_publication(
    context: dg.AssetExecutionContext, warehouse: Warehouse, erp_staging: ErpStaging, settings: PssyncSettings
) -> dg.MaterializeResult:
    if not erp_staging.enabled:
        return dg.MaterializeResult(metadata={"staging": "off", "published_batches": 0})
    engine = open_store(settings.workflow)
    published, inserted = [], 0
    try:
        todo = to_publish(engine)
        if todo:
            with warehouse.connect() as con:
                lines = {batch_id: released_lines(con, batch_id) for batch_id in todo}
            for batch_id in todo:
                inserted += erp_staging.publish(lines[batch_id])
                mark_published(engine, batch_id, now_utc())
                published.append(batch_id)
    finally:
        engine.dispose()
    return dg.MaterializeResult(
        metadata={
            "staging": "on",
            "published_batches": len(published),
            "staging_rows_inserted": inserted,
            "batches": published[:50],
        }
    )


billing_assets = [batches, batch_files, erp_publication]
