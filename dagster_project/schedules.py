"""Schedules: the nightly full sync settles yesterday; the hourly sync refreshes today."""

from datetime import timedelta

import dagster as dg

from dagster_project.jobs import hourly_sync, nightly_sync
from dagster_project.pools import create_pools, instance_of
from resources.settings import current


@dg.schedule(
    job=nightly_sync,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 UTC: everything as of yesterday (UTC).",
)
def nightly_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    _pools_ready(context, nightly_sync.name)
    as_of = (context.scheduled_execution_time.date() - timedelta(days=1)).isoformat()
    return dg.RunRequest(run_key=f"nightly-{as_of}", partition_key=as_of, tags=current().as_tags(as_of))


@dg.schedule(
    job=hourly_sync,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every hour at :15: approved time and invoices, recon and exceptions as of today.",
)
def hourly_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    _pools_ready(context, hourly_sync.name)
    t = context.scheduled_execution_time
    as_of = t.date().isoformat()
    return dg.RunRequest(run_key=f"hourly-{t:%Y%m%dT%H}", partition_key=as_of, tags=current().as_tags(as_of))


def _pools_ready(context: dg.ScheduleEvaluationContext, job_name: str) -> None:
    """Create the writer pools of the job before its run is launched: a pool Dagster creates when two runs first
    claim it at once fails one of them on PostgreSQL (dagster_project/pools.py, create_pools). A context without
    an instance (a test's) has nothing to create them in."""
    instance = instance_of(context)
    if instance is not None:
        create_pools(instance, context.repository_def.get_job(job_name))


SCHEDULES = [nightly_sync_schedule, hourly_sync_schedule]
