"""The CRM status asset: each nightly run tells the account teams what finance knows (assets/crm/status.py)."""

from datetime import date

import dagster as dg

from assets.common import TEAM, writer_pool
from assets.crm.status import OBJECTS, write_status_files
from assets.dependencies import deps_of
from assets.partitions import as_of_partitions
from resources import Warehouse
from resources.outputs import OutputFolder
from resources.settings import PssyncSettings

CRM_STATUS = dg.AssetKey(["crm", "status_files"])


@dg.asset(
    key=CRM_STATUS,
    group_name="crm",
    pool=writer_pool(CRM_STATUS),
    partitions_def=as_of_partitions,
    deps=deps_of(*(obj.query for obj in OBJECTS), itself=CRM_STATUS),
    owners=[TEAM["finance"]],
    kinds={"duckdb", "csv", "salesforce"},
    description="Per CRM Account and root Contract, what finance knows as of the date (billed to date, open and "
    "overdue receivables, unbilled WIP, remaining not-to-exceed hours, open exceptions), as Salesforce Bulk API 2.0 "
    "upsert files keyed by Id: `<PSSYNC_OUTPUT_DIR>/crm/Account-<YYYYMMDD>.csv` and `Contract-<YYYYMMDD>.csv`, with "
    "only the rows that changed since the date before. SQL: `sql/crm/*.sql`; fields in docs/crm.md.",
)
def crm_status_files(
    context: dg.AssetExecutionContext, warehouse: Warehouse, outputs: OutputFolder, settings: PssyncSettings
) -> dg.MaterializeResult:
    as_of = date.fromisoformat(context.partition_key)
    params = {"as_of": as_of, "reporting": settings.reporting_currency}
    with warehouse.connect() as con:
        written = write_status_files(con, as_of, params, outputs)
    return dg.MaterializeResult(
        metadata={
            **{f"{name.lower()}_rows_changed": rows for name, (_, rows) in written.items()},
            "files": [path for path, _ in written.values()],
        }
    )


crm_assets = [crm_status_files]
