"""Running the pipeline in process, as the command line, the demo and the tests do: a date's runs in stage order."""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import (
    LoadableTargetOrigin,
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)

from assets.partitions import LEGAL_ENTITY, every_entity_of_date
from dagster_project.definitions import build_definitions
from dagster_project.entities import register_entities
from dagster_project.jobs import DATE_STAGES, STAGED
from dagster_project.pools import create_pools
from resources.settings import current


def yesterday_utc() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


class DateRuns:
    """The runs that settle one as-of date in process: the date's run, the entity_settle run of every legal entity of
    the date, the firm view (`stages_of`). Read like one run's result (success, events, materializations)."""

    def __init__(self, results: list, instance: dg.DagsterInstance):
        self.results = results
        self.instance = instance

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.results]

    @property
    def all_events(self) -> list:
        return [e for r in self.results for e in r.all_events]

    def get_asset_materialization_events(self) -> list:
        return [e for r in self.results for e in r.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list:
        return [e for r in self.results for e in r.get_asset_check_evaluations()]


def run_pipeline(
    as_of: date,
    selection: str | None = None,
    raise_on_error: bool = True,
    job_name: str = "full_pipeline",
    on: dg.DagsterInstance | None = None,
    tags: dict | None = None,
) -> DateRuns:
    """Materialize a job (by default every asset), or an asset selection, in process for as-of ``as_of``;
    ``tags`` are added to the run's (a backfill's name, say). After a job of the date stage (jobs.STAGED) follow one
    entity_settle run over the partitions of every legal entity of the date, then the firm view (`stages_of`), each
    only when the run before it succeeded."""
    settings = current()
    defs = build_definitions()
    # the terminal gets stage lines and a verdict; Dagster's own log (with traces) only when asked for
    run_config = {"loggers": {"console": {"config": {"log_level": settings.log_level.upper()}}}}
    tags = {**settings.as_tags(as_of.isoformat()), **(tags or {})}  # the settings this run used, shown in the UI
    where = on or instance()
    stages = stages_of(defs.resolve_asset_graph(), job_name, selection)
    if any(job == "entity_settle" for job, _ in stages):
        tags["pssync/billing"] = "inline"  # billed by this sequence of runs: the sensors leave the date alone
    results: list[Any] = []
    for job, keys in stages:
        if results and not results[-1].success:
            break  # fail closed: billing never runs on a recon that failed, nor the firm view on a failed billing
        partition: str | None = as_of.isoformat()
        run_tags = tags
        if job == "entity_settle":
            if not register_entities(where, as_of, settings.warehouse):
                continue  # no legal entity bills on the date

            # one run of every entity of the date (a partition range): entities one after another in its step
            every = every_entity_of_date(as_of.isoformat(), where.get_dynamic_partitions(LEGAL_ENTITY))
            partition, run_tags = None, {**tags, **every}
        results.append(_run_one(where, defs, job, partition, keys, run_config, raise_on_error, run_tags))
    return DateRuns(results, where)


def stages_of(graph, job_name: str, selection: str | None) -> list[tuple[str, list | None]]:
    """The runs, in order, that `run_pipeline` starts: (job, asset keys or None for the whole job). A job of the date
    stage (jobs.STAGED) is followed by the other stages' part of its selection: its legal entities' reconciliation
    and billing, then the firm-wide view (jobs.DATE_STAGES); a selection is split along the same stages; any other
    job runs alone."""
    if selection:
        parts = selection.split(",") if "," in selection else [selection]
        keys = set(dg.AssetSelection.from_coercible([p.strip() for p in parts]).resolve(graph))
        split = [(job, sorted(keys & set(sel.resolve(graph)))) for job, sel in DATE_STAGES]
        return [("full_pipeline" if job == "date" else job, ks) for job, ks in split if ks]
    if job_name not in STAGED:
        return [(job_name, None)]
    wanted = set(STAGED[job_name].resolve(graph))
    stages: list[tuple[str, list | None]] = []
    for job, sel in DATE_STAGES:
        stage = set(sel.resolve(graph))
        if job == "date":
            stages.append((job_name, None))
        elif wanted & stage:  # the whole job, or the part of it the date's job asks for (no billing after hourly)
            stages.append((job, None if stage <= wanted else sorted(wanted & stage)))
    return stages


def _run_one(where, defs, job_name: str, partition_key, keys, run_config: dict, raise_on_error: bool, tags: dict):
    """One run of a partition key, or of the partition range its ``tags`` name."""
    if not where.is_ephemeral:  # recorded in the instance: the run belongs to the code location, as if launched there
        return _run_in_code_location(where, job_name, partition_key, keys, run_config, raise_on_error, tags)
    return defs.resolve_job_def(job_name).execute_in_process(
        instance=where,
        asset_selection=keys,
        raise_on_error=raise_on_error,
        partition_key=partition_key,
        tags=tags,
        run_config=run_config,
    )


def _run_in_code_location(
    where: dg.DagsterInstance, job_name: str, partition_key, keys, run_config: dict, raise_on_error: bool, tags: dict
):
    """Execute in this process a run recorded with the origin of the ``pssync`` code location of workspace.yaml,
    so that the UI shows it with that location's jobs (Overview timeline, job pages) and not as an ad-hoc run."""
    root = str(Path(__file__).resolve().parent.parent)
    module = "dagster_project.definitions"
    # Dagster keeps the last reconstructed job per process (lru_cache on equal origins): a run with other settings in
    # the same process must not inherit the resources of the one before
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    # build_definitions, not the module's `defs`: the resources follow the settings of this run
    recon_job = ReconstructableRepository.for_module(
        module, "build_definitions", working_directory=root
    ).get_reconstructable_job(job_name)
    if keys:
        recon_job = recon_job.get_subset(asset_selection=set(keys))
    job_def = recon_job.get_definition()
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable, module_name=module, working_directory=root
        ),
        location_name="pssync",
    )
    origin = RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, "__repository__"), job_name=job_name)
    tags = {
        **(job_def.get_tags_for_partition_key(partition_key, selected_asset_keys=None) if partition_key else {}),
        **tags,
    }
    create_pools(where, job_def)
    run = where.create_run_for_job(
        job_def=job_def,
        run_config=run_config,
        tags=tags,
        asset_selection=set(keys) if keys else None,
        remote_job_origin=origin,
        job_code_origin=recon_job.get_python_origin(),
    )
    try:
        return execute_run(recon_job, run, where, raise_on_error=raise_on_error)
    finally:
        # Dagster gives a finished run's pool slots back only from the daemon, and only when
        # run_monitoring.free_slots_after_run_end_seconds is set: a run that failed here would otherwise keep the
        # slots of the steps it had claimed, and every later run's steps of those tables would wait on them forever
        if where.event_log_storage.supports_global_concurrency_limits:
            where.event_log_storage.free_concurrency_slots_for_run(run.run_id)
