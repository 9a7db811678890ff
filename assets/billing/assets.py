"""Billing assets, one partition per as-of date: batch lines and headers, then batch files and staging."""

from datetime import date

import dagster as dg

from assets import published_columns
from assets.dependencies import deps_of
from assets.billing.emit import compute_and_record, write_files
from assets.common import TEAM
from checks.gx_suites import validate_mart
from assets.partitions import as_of_partitions
from resources import Warehouse
from resources.erp_staging import ErpStaging
from resources.outputs import OutputFolder
from resources.quality import DataQuality

BATCH_LINES = dg.AssetKey(["billing", "batch_lines"])
BATCHES = dg.AssetKey(["billing", "batches"])
BATCH_FILES = dg.AssetKey(["billing", "batch_files"])


def preview(batches: list[dict]) -> str:
    rows = ["| batch | lines | net | tax | gross |", "|---|---:|---:|---:|---:|"]
    rows += [
        f"| {b['batch_id']} | {b['line_count']} | {b['net_amount']:,.2f} | {b['tax_amount']:,.2f} | "
        f"{b['gross_amount']:,.2f} {b['currency']} |"
        for b in batches
    ]
    return "\n".join(rows)


@dg.multi_asset(
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
def batches(context: dg.AssetExecutionContext, warehouse: Warehouse, quality: DataQuality):
    as_of = date.fromisoformat(context.partition_key)
    gx_error = None
    with warehouse.connect() as con:
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
    deps=[BATCHES],
    partitions_def=as_of_partitions,
    owners=[TEAM["finance"]],
    kinds={"json"},
    tags={"layer": "billing"},
    description="One JSON file per batch at `<PSSYNC_OUTPUT_DIR>/billing_batches/<batch_id>.json` (header, lines, "
    "totals; written atomically, sorted and formatted deterministically), and, when "
    "`PSSYNC_ERP_STAGING_URL` is set, the lines published to the ERP staging table: one transaction per "
    "batch keyed by idempotency_key, so a repeated publish inserts nothing.",
)
def batch_files(
    context: dg.AssetExecutionContext, warehouse: Warehouse, outputs: OutputFolder, erp_staging: ErpStaging
) -> dg.MaterializeResult:
    as_of = date.fromisoformat(context.partition_key)
    with warehouse.connect() as con:
        em = compute_and_record(con, as_of)  # committed already: returns the stored lines
    paths = write_files(em, outputs)
    inserted = 0
    if erp_staging.enabled:
        for header in em.batches:
            inserted += erp_staging.publish(em.lines[header["batch_id"]])
    return dg.MaterializeResult(
        metadata={
            "files": paths[:50],
            "file_count": len(paths),
            "staging_rows_inserted": inserted,
            "staging": "on" if erp_staging.enabled else "off",
            "preview": dg.MetadataValue.md(preview(em.batches)),
        }
    )


billing_assets = [batches, batch_files]
