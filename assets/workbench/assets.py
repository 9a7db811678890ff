"""The workbench's view of the pipeline's findings: after each run, the exception states in the workflow store
follow ``ops.exceptions`` (workbench/lifecycle.py)."""

import dagster as dg

from assets.common import TEAM, now_utc
from assets.partitions import as_of_partitions
from assets.recon.assets import recon_assets
from resources import Warehouse
from resources.settings import PssyncSettings
from workbench.lifecycle import findings_of, last_sync, sync_findings
from workbench.store import open_store

EXCEPTION_WORKFLOW = dg.AssetKey(["workbench", "exception_states"])


@dg.asset(
    key=EXCEPTION_WORKFLOW,
    group_name="workbench",
    partitions_def=as_of_partitions,
    deps=[a.key for a in recon_assets],  # the last writers of ops.exceptions in a run
    owners=[TEAM["finance"]],
    kinds={"sqlalchemy"},
    description="Exception states in the workflow store (`PSSYNC_WORKFLOW_URL`; SQLite `workflow.db` beside the "
    "warehouse by default): every exception of `ops.exceptions` is open, acknowledged, waived or resolved. A new "
    "finding opens; one the pipeline no longer finds is resolved; a resolved one found again, or a waived one whose "
    "finding changed (its amount at risk, its owner), reopens. People act on them with `pssync exceptions "
    "ack|assign|waive|comment`; every change is in the audit trail. See docs/workbench.md.",
)
def exception_states(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: PssyncSettings):
    engine = open_store(settings.workflow)
    try:
        now, since = now_utc(), last_sync(engine)
        with warehouse.connect() as con:
            findings = findings_of(con, since)
        changes = sync_findings(engine, findings, now, settings.sla())
    finally:
        engine.dispose()
    return dg.MaterializeResult(metadata={**changes, "findings_read": len(findings), "read_since": str(since)})


workbench_assets = [exception_states]
