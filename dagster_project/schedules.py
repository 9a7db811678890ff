"""Schedules: the nightly full sync settles yesterday; the hourly sync refreshes today."""

from datetime import timedelta

import dagster as dg

from dagster_project.jobs import hourly_sync, nightly_sync
from resources.settings import current


@dg.schedule(
    job=nightly_sync,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 UTC: everything as of yesterday (UTC).",
)
def nightly_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
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
    t = context.scheduled_execution_time
    as_of = t.date().isoformat()
    return dg.RunRequest(run_key=f"hourly-{t:%Y%m%dT%H}", partition_key=as_of, tags=current().as_tags(as_of))


SCHEDULES = [nightly_sync_schedule, hourly_sync_schedule]
