"""The pssync code location: every domain's definitions, merged, with shared resources, jobs,
schedules and sensors."""

import dagster as dg

import assets.billing.definitions as billing
import assets.canonical.definitions as canonical
import assets.crm.definitions as crm
import assets.extract.definitions as extract
import assets.marts.definitions as marts
import assets.recon.definitions as recon
import assets.workbench.definitions as workbench
from dagster_project.executors import executor_for
from dagster_project.jobs import JOBS
from dagster_project.resources import build_resources
from dagster_project.schedules import SCHEDULES
from dagster_project.sensors import SENSORS
from resources.settings import current


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        extract.defs,
        canonical.defs,
        recon.defs,
        billing.defs,
        marts.defs,
        crm.defs,
        workbench.defs,
        dg.Definitions(
            resources=build_resources(),
            jobs=JOBS,
            schedules=SCHEDULES,
            sensors=SENSORS,
            executor=executor_for(current()),
        ),
    )


defs = build_definitions()
