"""Running the pipeline in process, as the CLI, the demo and the tests do."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

import dagster as dg

SETTINGS = {
    "landing_dir": "PSSYNC_LANDING_DIR",
    "warehouse": "PSSYNC_WAREHOUSE",
    "psa_url": "PSSYNC_PSA_URL",
    "output_dir": "PSSYNC_OUTPUT_DIR",
    "reporting_currency": "PSSYNC_REPORTING_CURRENCY",
    "staffing_threshold": "PSSYNC_STAFFING_THRESHOLD",
    "erp_staging_url": "PSSYNC_ERP_STAGING_URL",
}


def yesterday_utc() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def apply_settings(**values) -> None:
    """Command-line options override the PSSYNC_* environment variables of the same meaning."""
    for key, value in values.items():
        if value not in (None, ""):
            os.environ[SETTINGS[key]] = str(value)


def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def run_pipeline(as_of: date, selection: str | None = None, raise_on_error: bool = True,
                 job_name: str = "full_pipeline", on: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    """Materialize a job (by default every asset), or an asset selection, in process for as-of ``as_of``."""
    from dagster_project.definitions import build_definitions

    defs = build_definitions()
    job = defs.resolve_job_def(job_name)
    keys = None
    if selection:
        parts = selection.split(",") if "," in selection else [selection]
        keys = list(dg.AssetSelection.from_coercible([p.strip() for p in parts]).resolve(defs.resolve_asset_graph()))
    level = os.environ.get("PSSYNC_LOG_LEVEL", "WARNING")
    return job.execute_in_process(instance=on or instance(), asset_selection=keys, raise_on_error=raise_on_error,
                                  partition_key=as_of.isoformat(), tags={"pssync/as_of": as_of.isoformat()},
                                  run_config={"loggers": {"console": {"config": {"log_level": level}}}})
