"""Billing assets: batch lines and headers, then batch files, one partition per (as-of date, legal entity); the ERP
staging of released batches, one per as-of date."""

from datetime import date

import dagster as dg

from assets.billing.emit import compute_and_record, recorded_emissions, write_files
from assets.billing.release import check_ledger, free_rejected_keys, released_lines
from assets.common import TEAM, now_utc, writer_pool
from assets.dependencies import deps_of
from assets.partitions import ONE_RUN_PER_BACKFILL, as_of_partitions, by_date, entity_partitions, entity_partitions_of
from checks.gx_suites import validate_mart
from resources import Warehouse
from resources.columns import column_schema
from resources.erp_staging import ErpStaging
from resources.outputs import OutputFolder
from resources.quality import DataQuality
from resources.settings import PssyncSettings
from resources.warehouse import bound_params, sql_text
from workbench.batches import mark_published, register, to_publish
from workbench.store import open_store

BATCH_LINES = dg.AssetKey(["billing", "batch_lines"])
BATCHES = dg.AssetKey(["billing", "batches"])
BATCH_FILES = dg.AssetKey(["billing", "batch_files"])
ERP_PUBLICATION = dg.AssetKey(["billing", "erp_publication"])


def emit_every_date(con, pairs: list[tuple[date, str]], emit=compute_and_record) -> list:
    """The emissions of (as-of date, legal entity) pairs: the entities of a date in one transaction, dates in order
    (a date's lines leave out what an earlier date's batches carry). ``emit``: `recorded_emissions` to read only."""
    return [em for d, entities in by_date(pairs) for em in emit(con, d, entities)]


def with_gross_reporting(con, headers: list[dict], reporting: str) -> list[dict]:
    """Batch headers with their gross in the reporting currency (``sql/billing/batch_gross_reporting.sql``): what
    the dual-approval threshold is compared with when finance releases them."""
    query = sql_text("billing/batch_gross_reporting")
    out = []
    for as_of in sorted({h["as_of_date"] for h in headers}):
        day = [h for h in headers if h["as_of_date"] == as_of]
        params = {"as_of": as_of, "reporting": reporting, "batches": [h["batch_id"] for h in day]}
        gross = dict(con.execute(query, bound_params(query, params)).fetchall())
        out += [{**h, "gross_reporting": gross.get(h["batch_id"]), "reporting_currency": reporting} for h in day]
    return out


def preview(batches: list[dict]) -> str:
    rows = ["| batch | lines | net | tax | gross |", "|---|---:|---:|---:|---:|"]
    rows += [
        f"| {b['batch_id']} | {b['line_count']} | {b['net_amount']:,.2f} | {b['tax_amount']:,.2f} | "
        f"{b['gross_amount']:,.2f} {b['currency']} |"
        for b in batches
    ]
    return "\n".join(rows)


# no writer pool for the steps of an entity: they add only their entity's rows (appends, which a shared warehouse
# lets commit side by side), and the entity's turn keeps two runs of one entity from recording batches at once
@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            BATCH_LINES,
            group_name="billing",
            owners=[TEAM["finance"]],
            kinds={"duckdb", "sql"},
            metadata={
                "dagster/column_schema": column_schema("billing/batch_lines"),
                "dagster/table_name": "billing.batch_lines",
            },
            deps=deps_of("billing/batch_lines", itself=BATCH_LINES),
            tags={"layer": "billing"},
            description="`billing.batch_lines`: every billable item of the legal entity's projects on the "
            "as-of date that no batch of another date carries (time at the expected rate, capped where the cap says; "
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
                "dagster/column_schema": column_schema("billing/batches"),
                "dagster/table_name": "billing.batches",
            },
            deps=deps_of("billing/batches", itself=BATCHES),
            tags={"layer": "billing"},
            description="`billing.batches`: one batch per (legal entity, ERP customer, currency) and as-of "
            "date, id `BB-<entity>-<customer>-<currency>-<YYYYMMDD>`, totals summed from its "
            "rounded lines. A run records the batches of its entities, a date's in one transaction that "
            "takes each entity's turn, so runs of different entities of a date bill side by side; the table "
            "holds every entity's (the firm-wide view). SQL: `sql/billing/batches.sql`.",
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
    partitions_def=entity_partitions,
    backfill_policy=ONE_RUN_PER_BACKFILL,
)
def batches(context: dg.AssetExecutionContext, warehouse: Warehouse, quality: DataQuality, settings: PssyncSettings):
    pairs = entity_partitions_of(context)
    outcomes, gx_errors = [], []
    with warehouse.connect() as con:
        free_rejected_keys(con, settings.workflow, context.log)
        check_ledger(con, settings.workflow, context.log, min(d for d, _ in pairs))
        emissions = emit_every_date(con, pairs)
        problems = [f"{em.legal_entity} on {em.as_of}: {p}" for em in emissions for p in em.problems]
        for as_of in sorted({d for d, _ in pairs}):
            day = [em for em in emissions if em.as_of == as_of]
            if not any(em.batches for em in day) or any(em.problems for em in day):
                continue
            try:  # the batches are committed: a failing quality tool must not keep their files from being written
                outcomes.append(validate_mart(con, quality, "billing", "batches", as_of))
            except Exception as exc:
                gx_errors.append(f"great-expectations could not run: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    emitted = [b for em in emissions for b in em.batches]
    yield dg.AssetCheckResult(
        check_name="batch_integrity",
        asset_key=BATCH_LINES,
        passed=not problems,
        metadata={"problems": problems or ["none"]},
    )
    if problems:
        raise RuntimeError(f"batch integrity failed; nothing was emitted for those entities: {problems}")
    entities = sorted({e for _, e in pairs})
    replay = all(em.replay for em in emissions)
    yield dg.MaterializeResult(
        asset_key=BATCH_LINES,
        metadata={
            "dagster/row_count": sum(len(v) for em in emissions for v in em.lines.values()),
            "replay": replay,
            "as_of": ", ".join(sorted({d.isoformat() for d, _ in pairs})),
            "legal_entities": ", ".join(entities),
        },
    )
    yield dg.MaterializeResult(
        asset_key=BATCHES,
        metadata={
            "dagster/row_count": len(emitted),
            "replay": replay,
            "net_total_by_currency": {
                c: str(sum(b["net_amount"] for b in emitted if b["currency"] == c))
                for c in sorted({b["currency"] for b in emitted})
            },
            "preview": dg.MetadataValue.md(preview(emitted)),
        },
    )
    failed = [f for o in outcomes for f in o.failed] + gx_errors
    yield dg.AssetCheckResult(
        check_name="expectations",
        asset_key=BATCHES,
        passed=all(o.success for o in outcomes) and not gx_errors,
        metadata={
            "failed": failed or (["none"] if outcomes else ["no batches"]),
            "data_docs": dg.MetadataValue.path(outcomes[-1].docs_index) if outcomes else "",
        },
    )


@dg.asset(
    key=BATCH_FILES,
    group_name="billing",
    deps=[BATCHES],
    partitions_def=entity_partitions,
    backfill_policy=ONE_RUN_PER_BACKFILL,
    owners=[TEAM["finance"]],
    kinds={"json", "sqlalchemy"},
    tags={"layer": "billing"},
    description="One JSON file per batch of the legal entity at "
    "`<PSSYNC_OUTPUT_DIR>/billing_batches/<batch_id>.json` (header, lines, totals; written atomically, sorted and "
    "formatted deterministically); each batch is then registered `pending` "
    'in the workflow store, for a finance user to release or reject (docs/billing.md, "Release").',
)
def batch_files(
    context: dg.AssetExecutionContext, warehouse: Warehouse, outputs: OutputFolder, settings: PssyncSettings
) -> dg.MaterializeResult:
    with warehouse.connect() as con:  # the batches step committed them: their stored lines
        emissions = emit_every_date(con, entity_partitions_of(context), recorded_emissions)
        emitted = with_gross_reporting(con, [b for em in emissions for b in em.batches], settings.reporting_currency)
    paths = [p for em in emissions for p in write_files(em, outputs)]
    engine = open_store(settings.workflow)
    try:
        registered = register(engine, emitted, now_utc())
    finally:
        engine.dispose()
    return dg.MaterializeResult(
        metadata={
            "files": paths[:50],
            "file_count": len(paths),
            "registered_pending": registered,
            "preview": dg.MetadataValue.md(preview(emitted)),
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
ENTITY_BILLING = dg.AssetSelection.assets(BATCH_LINES, BATCHES, BATCH_FILES)
"""The assets partitioned by (as-of date, legal entity): a job of their own (jobs.entity_settle)."""
