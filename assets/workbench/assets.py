"""The workbench's view of the pipeline's findings: after each run, the exception states in the workflow store
follow ``ops.exceptions`` (workbench/lifecycle.py)."""

from datetime import date

import dagster as dg

from assets.billing.assets import ERP_PUBLICATION
from assets.common import TEAM, now_utc, writer_pool
from assets.partitions import as_of_partitions
from assets.recon.definitions import recon_assets
from assets.workbench.withdrawn import withdrawn_findings
from resources import Warehouse
from resources.settings import PssyncSettings
from resources.warehouse import table_exists
from workbench.deliver import start as start_delivery
from workbench.events import Event, record, sinks_of
from workbench.lifecycle import findings_of, last_sync, sync_findings
from workbench.store import open_store, writing

EXCEPTION_WORKFLOW = dg.AssetKey(["workbench", "exception_states"])


@dg.asset(
    key=EXCEPTION_WORKFLOW,
    group_name="workbench",
    pool=writer_pool(EXCEPTION_WORKFLOW),
    partitions_def=as_of_partitions,
    deps=[a.key for a in recon_assets],  # the last writers of ops.exceptions in a run
    owners=[TEAM["finance"]],
    kinds={"sqlalchemy"},
    description="Exception states in the workflow store (`PSSYNC_WORKFLOW_URL`; SQLite `workflow.db` beside the "
    "warehouse by default): every exception of `ops.exceptions` is open, acknowledged, waived or resolved. A new "
    "finding opens; one the pipeline no longer finds is resolved; a resolved one found again, or a waived one whose "
    "finding changed (its amount at risk, its owner), reopens. People act on them with `pssync exceptions "
    "ack|assign|waive|comment`; every change is in the audit trail. Work that a pending batch carries and the PSA "
    "has since deleted or sent back is a `WITHDRAWN_WORK` exception for finance that holds the batch. See "
    "docs/workbench.md.",
)
def exception_states(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: PssyncSettings):
    engine = open_store(settings.workflow)
    try:
        now, since = now_utc(), last_sync(engine)
        as_of = date.fromisoformat(context.partition_key)
        with warehouse.connect() as con:
            findings = findings_of(con, since) + withdrawn_findings(con, engine, as_of)
        changes = sync_findings(engine, findings, now, settings.sla())
    finally:
        engine.dispose()
    return dg.MaterializeResult(metadata={**changes, "findings_read": len(findings), "read_since": str(since)})


BUSINESS_EVENTS = dg.AssetKey(["workbench", "business_events"])
STAFFING_FORECAST = dg.AssetKey(["marts", "staffing_forecast"])


def staffing_demand(con, as_of: date, now) -> list[Event]:
    """``staffing.demand``: each month, role and region of the staffing forecast whose demand exceeds free
    capacity (gap > 0); a new event when the gap changes, none while it stays the same."""
    if not table_exists(con, "marts.staffing_forecast"):
        return []
    rows = con.execute(
        "SELECT month, role, region, demand_hours, capacity_hours, assigned_hours, gap FROM marts.staffing_forecast "
        "WHERE as_of_date = ? AND gap > 0 ORDER BY ALL",
        [as_of],
    ).fetchall()
    cols = ("month", "role", "region", "demand_hours", "capacity_hours", "assigned_hours", "gap")
    return [
        Event("staffing.demand", f"{r[0]:%Y-%m}|{r[1]}|{r[2]}", now, {**dict(zip(cols, r)), "as_of": as_of}, str(r[6]))
        for r in rows
    ]


@dg.asset(
    key=BUSINESS_EVENTS,
    group_name="workbench",
    pool=writer_pool(BUSINESS_EVENTS),
    partitions_def=as_of_partitions,
    deps=[EXCEPTION_WORKFLOW, ERP_PUBLICATION, STAFFING_FORECAST],
    owners=[TEAM["integration"]],
    kinds={"sqlalchemy", "nats"},
    description="Business events to the systems that subscribe: `staffing.demand` from the staffing forecast is added "
    "to the outbox (the exception and batch events are added as they happen), then every event not yet delivered "
    "goes to the webhooks (`PSSYNC_WEBHOOK_URLS`, HMAC-signed) and NATS JetStream (`PSSYNC_NATS_URL`), at least "
    "once, retried with backoff, dead-lettered after `PSSYNC_EVENT_MAX_ATTEMPTS`. See docs/workbench.md.",
)
def business_events(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: PssyncSettings):
    as_of = date.fromisoformat(context.partition_key)
    now = now_utc()
    with warehouse.connect() as con:
        demand = staffing_demand(con, as_of, now)
    engine = open_store(settings.workflow)
    try:
        with writing(engine) as con:
            added = record(con, demand)
    finally:
        engine.dispose()
    if not sinks_of(settings):
        return dg.MaterializeResult(metadata={"staffing_demand_added": added, "delivery": "no sink configured"})
    pid = start_delivery(settings)
    return dg.MaterializeResult(
        metadata={"staffing_demand_added": added, "delivery": f"started in its own process ({pid})"}
    )


workbench_assets = [exception_states, business_events]
