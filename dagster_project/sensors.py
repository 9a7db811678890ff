"""Sensors: HR and ERP file drops, CRM deals crossing the staffing threshold, failed runs."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from assets.partitions import entity_key
from assets.recon.assets import TIME_TO_BILL
from dagster_project.entities import entities_of_date, register_entities
from dagster_project.jobs import (
    ENTITY_SETTLE,
    FIRM_VIEW,
    STAGED,
    entity_settle,
    file_drop_sync,
    firm_view,
    hourly_sync,
    nightly_sync,
    staffing_refresh,
)
from dagster_project.pools import create_pools, instance_of, pools_message
from resources import LandingFolder, Warehouse
from resources.settings import PssyncSettings, current
from resources.warehouse import open_warehouse

DROP_PATTERNS = ("hr/*.json", "erp/*.csv")


@dg.sensor(
    job=file_drop_sync,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="New HR snapshots or ERP exports in the landing folder: one run per new set of files.",
)
def file_drop_sensor(context: dg.SensorEvaluationContext, landing: LandingFolder):
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    landed = {landing.relative(p) for pattern in DROP_PATTERNS for p in landing.files(pattern)}
    new = sorted(landed - seen)
    if not new:
        return dg.SkipReason("no new HR or ERP files")
    run_key = hashlib.sha256("\n".join(new).encode()).hexdigest()[:16]
    context.update_cursor(json.dumps(sorted(landed)))
    return dg.RunRequest(
        run_key=f"files-{run_key}", tags={**current().as_tags(), "pssync/new_files": str(len(new))}, run_config={}
    )


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Creates every writer pool of the code location's jobs that the instance lacks, whoever launches "
    "their runs (the UI, a sensor, a schedule, pssync run): Dagster creates a pool when a step first claims it, "
    "and two runs doing that at once on PostgreSQL fail one of them. Launches no run.",
)
def writer_pools_sensor(context: dg.SensorEvaluationContext):
    instance = instance_of(context)
    if instance is None or context.repository_def is None:
        return dg.SkipReason("no instance to create pools in")
    return dg.SkipReason(pools_message(create_pools(instance, *context.repository_def.get_all_jobs())))


def _opportunities_above(folder: Path, threshold: float) -> set[str]:
    above = set()
    for page in sorted(folder.glob("Opportunity-*.json")):
        try:
            records = json.loads(page.read_text(encoding="utf-8")).get("records", [])
        except (OSError, json.JSONDecodeError):
            continue
        for r in records:
            try:
                prob = float(r.get("Probability"))
            except (TypeError, ValueError):
                continue
            if prob >= threshold and not r.get("IsClosed") and not r.get("IsDeleted"):
                above.add(r["Id"])
    return above


@dg.sensor(
    job=staffing_refresh,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="A new CRM extract in which open opportunities reach PSSYNC_STAFFING_THRESHOLD: refresh "
    "the staffing forecast. Reads the landing folder, not the warehouse, so it never waits on a "
    "writer's lock.",
)
def staffing_threshold_sensor(context: dg.SensorEvaluationContext, landing: LandingFolder, settings: PssyncSettings):
    threshold = settings.staffing_threshold
    state = json.loads(context.cursor) if context.cursor else {"folder": "", "above": []}
    seen_folder = str(state["folder"])
    folders = sorted(p for p in (landing.root / "crm").glob("*") if p.is_dir() and p.name > seen_folder)
    if not folders:
        return dg.SkipReason("no new CRM extract")
    above = set(state["above"])
    crossed: set[str] = set()
    for folder in folders:
        now = _opportunities_above(folder, threshold)
        crossed |= now - above
        above |= now
    context.update_cursor(json.dumps({"folder": folders[-1].name, "above": sorted(above)}))
    if not crossed:
        return dg.SkipReason(f"no opportunity crossed {threshold:g}% in {folders[-1].name}")
    as_of = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    return dg.RunRequest(
        run_key=f"staffing-{folders[-1].name}",
        partition_key=as_of,
        tags={**settings.as_tags(), "pssync/crossed": ",".join(sorted(crossed))[:200]},
    )


def record_alert(warehouse_path: str, output_dir: str, alert: dict) -> str:
    """Write the alert to ops.alerts; if the warehouse is locked by a running sync, to a JSON-lines
    file beside the outputs instead (loaded into ops.alerts by the next successful write)."""
    try:
        con = open_warehouse(warehouse_path)
        try:
            con.execute("""CREATE TABLE IF NOT EXISTS ops.alerts (
                               alerted_at TIMESTAMP, run_id VARCHAR, job_name VARCHAR,
                           partition_key VARCHAR, message VARCHAR)""")
            con.execute(
                "INSERT INTO ops.alerts VALUES (?, ?, ?, ?, ?)",
                [alert["alerted_at"], alert["run_id"], alert["job_name"], alert["partition_key"], alert["message"]],
            )
        finally:
            con.close()
        return "ops.alerts"
    except duckdb.Error:
        path = Path(output_dir) / "alerts.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(alert, default=str) + "\n")
        return str(path)


def post_webhook(url: str, alert: dict) -> None:
    req = urllib.request.Request(
        url, data=json.dumps(alert, default=str).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10):
        pass


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Records every failed run in ops.alerts and posts it to PSSYNC_ALERT_WEBHOOK_URL "
    "when one is configured.",
)
def run_failure_alert(context: dg.RunFailureSensorContext, warehouse: Warehouse, settings: PssyncSettings):
    run = context.dagster_run
    alert = {
        "alerted_at": datetime.now(UTC).replace(tzinfo=None),
        "run_id": run.run_id,
        "job_name": run.job_name,
        "partition_key": run.tags.get("dagster/partition"),
        "message": context.failure_event.message or "run failed",
    }
    where = record_alert(warehouse.path, settings.outputs, alert)
    context.log.info(f"failure of {run.job_name} recorded in {where}")
    if settings.alert_webhook_url:
        post_webhook(settings.alert_webhook_url, alert)


def _date_to_follow(run: dg.DagsterRun, tag: str) -> str | None:
    """The as-of date whose next run a sensor launches after ``run``, or None: a run without one, or one that
    `pssync run` follows itself (tag ``pssync/billing: inline``)."""
    return None if run.tags.get("pssync/billing") == "inline" else run.tags.get(tag)


def _chain_of(run: dg.DagsterRun) -> str:
    """The job of the date stage whose run an entity or firm-view run follows (jobs.STAGED)."""
    return run.tags.get("pssync/chain", nightly_sync.name)


def _stage_keys(context: dg.RunStatusSensorContext, chain: str, stage) -> list[dg.AssetKey] | None:
    """The asset keys of a stage that a run of ``chain`` asks for: None for the whole stage. Read from the code
    location's definitions, which Dagster hands to the sensor with its context."""
    if chain not in STAGED:  # a run launched by hand over any selection: the whole stage follows
        return None
    if context.repository_def is None:  # Dagster hands every evaluation its code location; a bare test context: all
        return None
    graph = context.repository_def.asset_graph
    whole, wanted = set(stage.resolve(graph)), set(STAGED[chain].resolve(graph))
    return None if whole <= wanted else sorted(whole & wanted)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_sync, hourly_sync],
    request_jobs=[entity_settle, firm_view],
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="A nightly_sync or hourly_sync run succeeded: one entity_settle run per legal entity of its date "
    "(reconciliation and billing after the nightly, reconciliation only after the hourly), which the run coordinator "
    "lets go side by side (a date no entity settles goes straight to firm_view). Leaves alone a run that settled its "
    "date itself (pssync run).",
)
def entity_settle_sensor(context: dg.RunStatusSensorContext, settings: PssyncSettings):
    run = context.dagster_run
    as_of = _date_to_follow(run, "dagster/partition")
    if as_of is None:
        return dg.SkipReason(f"run {run.run_id} settles its date itself or has no as-of date")
    entities = register_entities(context.instance, date.fromisoformat(as_of), settings.warehouse)
    tags = {**settings.as_tags(as_of), "pssync/after_run": run.run_id, "pssync/chain": run.job_name}
    return [
        dg.RunRequest(
            run_key=f"settle-{as_of}-{entity}-{run.run_id}",
            partition_key=entity_key(as_of, entity),
            tags=tags,
            job_name=entity_settle.name,
            asset_selection=_stage_keys(context, run.job_name, ENTITY_SETTLE),
        )
        for entity in entities
    ] or [
        dg.RunRequest(
            run_key=f"firm-{as_of}-{run.run_id}",
            partition_key=as_of,
            tags=tags,
            job_name=firm_view.name,
            asset_selection=_stage_keys(context, run.job_name, FIRM_VIEW),
        )
    ]


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[entity_settle],
    request_job=firm_view,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="An entity_settle run succeeded and every legal entity of its date has now settled after the same "
    "date run (its entity_settle run succeeded): the firm-wide view of "
    "the date (marts, published snapshot, exception states, ERP publication, business events). Leaves alone a run "
    "that pssync run follows itself.",
)
def firm_view_sensor(context: dg.RunStatusSensorContext, settings: PssyncSettings):
    run = context.dagster_run
    as_of = _date_to_follow(run, "dagster/partition/as_of")
    if as_of is None:
        return dg.SkipReason(f"run {run.run_id} is followed by pssync run itself or has no single as-of date")
    chain, after = _chain_of(run), run.tags.get("pssync/after_run")
    entities = entities_of_date(settings.warehouse, date.fromisoformat(as_of))
    wanted = [str(entity_key(as_of, e)) for e in entities]
    records = context.instance.fetch_materializations(  # every entity run reconciles first
        dg.AssetRecordsFilter(asset_key=TIME_TO_BILL, asset_partitions=wanted), limit=10 * len(wanted) + 10
    ).records
    latest: dict[str | None, str] = {}
    for r in records:  # newest first: the run that last settled each entity
        latest.setdefault(r.partition_key, r.run_id)
    runs = {rid: context.instance.get_run_by_id(rid) for rid in set(latest.values())}
    settled = {r.run_id: r for r in runs.values() if r is not None and r.status == dg.DagsterRunStatus.SUCCESS}
    latest = {  # settled: its run is over and succeeded, and (if any) it followed the same date run
        k: rid
        for k, rid in latest.items()
        if rid in settled and (not after or settled[rid].tags.get("pssync/after_run") == after)
    }
    missing = sorted(set(wanted) - set(latest))
    if missing:
        return dg.SkipReason(f"{as_of}: waiting for {', '.join(k.split('|')[1] for k in missing)} to settle")
    # one firm view per set of entity runs: two entities finishing in one tick request it once
    digest = hashlib.sha256(",".join(sorted(latest.values())).encode()).hexdigest()[:16]
    return dg.RunRequest(
        run_key=f"firm-{as_of}-{digest}",
        partition_key=as_of,
        tags={**settings.as_tags(as_of), "pssync/chain": chain},
        asset_selection=_stage_keys(context, chain, FIRM_VIEW),
    )


SENSORS = [
    file_drop_sensor,
    staffing_threshold_sensor,
    run_failure_alert,
    writer_pools_sensor,
    entity_settle_sensor,
    firm_view_sensor,
]
