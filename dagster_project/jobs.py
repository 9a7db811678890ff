"""Jobs. Their executor is the code location's (dagster_project/executors.py): in process on an embedded warehouse
(DuckDB allows one writer per file, and the instance queues runs one at a time, see dagster_home/dagster.yaml),
Celery workers on a shared one (dagster_home/production/dagster.yaml)."""

import dagster as dg

from assets.billing.assets import ENTITY_BILLING
from assets.marts.assets import ENTITY_MARTS
from assets.recon.assets import TIME_TO_BILL

HOURLY = dg.AssetSelection.assets(
    ["raw", "psa_time_entries"],
    ["raw", "erp_invoices"],
    ["raw", "erp_invoice_lines"],
    ["raw", "erp_payments"],
    ["canonical", "time_entry"],
    ["canonical", "invoice"],
    ["canonical", "invoice_line"],
    ["canonical", "payment"],
    ["canonical", "crosswalks"],
    ["recon", "billing_holds"],
    ["recon", "time_to_bill"],
    ["recon", "time_to_bill_exceptions"],
    ["recon", "billing_line_exceptions"],
    ["recon", "contractor_hours"],
    ["workbench", "exception_states"],
    ["billing", "erp_publication"],
    ["workbench", "business_events"],
)

ENTITY_SETTLE = dg.AssetSelection.assets(TIME_TO_BILL) | ENTITY_BILLING | ENTITY_MARTS
"""The assets partitioned by (as-of date, legal entity): an entity's reconciliation, billing and the marts of its
projects (job entity_settle)."""

FIRM_VIEW = ENTITY_SETTLE.downstream(include_self=False)
"""What reads every entity's reconciliation and batches of a date (the marts over them, the published snapshot, ERP
publication, the workbench's exception states, business events): a run of its own once the date's entities have
settled."""

DATE_ASSETS = dg.AssetSelection.all() - ENTITY_SETTLE - FIRM_VIEW
"""Every asset partitioned by the as-of date alone and upstream of the entities' settling (a run targets one
partition of one partitions definition)."""

DATE_STAGES = (("date", DATE_ASSETS), ("entity_settle", ENTITY_SETTLE), ("firm_view", FIRM_VIEW))
"""The runs that settle a date, in order: its assets, then every legal entity's reconciliation and billing, then the
firm-wide view over them (dagster_project/runner.py, run_pipeline; the sensors chain them on the production
instance). A job of the date stage is followed by the other two stages' part of its selection (STAGED)."""

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=DATE_ASSETS,
    description="Every asset of the as-of date upstream of the legal entities' reconciliation and billing, in process; "
    "`pssync run` and the demo then run entity_settle over every legal entity of the date, then firm_view.",
)

nightly_sync = dg.define_asset_job(
    "nightly_sync",
    selection=DATE_ASSETS,
    description="Everything for yesterday (UTC) upstream of the legal entities' reconciliation and billing: extract "
    "every source, canonical, the date-wide recon tables and marts; when it succeeds, entity_settle_sensor starts "
    "one run per legal entity, then firm_view_sensor firm_view.",
)

entity_settle = dg.define_asset_job(
    "entity_settle",
    selection=ENTITY_SETTLE,
    description="The reconciliation (recon.time_to_bill), billing batches and files of one legal entity on one as-of "
    "date: the entities of a date run side by side, each in tables of its own and recording its batches exactly "
    "once. After an hourly_sync, its reconciliation only.",
)

firm_view = dg.define_asset_job(
    "firm_view",
    selection=FIRM_VIEW,
    description="After every legal entity of the date has settled: the marts over their reconciliation, the published "
    "snapshot analysts read, the workbench's exception states, released batches to the ERP staging table, business "
    "events.",
)

hourly_sync = dg.define_asset_job(
    "hourly_sync",
    selection=HOURLY & DATE_ASSETS,
    description="Approved time and invoices incrementally and the date-wide recon tables as of today; then each legal "
    "entity's reconciliation (entity_settle) and the workbench's exception states, released batches to the ERP "
    "staging table and business events (firm_view). No new billing.",
)

file_drop_sync = dg.define_asset_job(
    "file_drop_sync",
    selection=dg.AssetSelection.groups("extract").tag("source", "hr")
    | dg.AssetSelection.groups("extract").tag("source", "erp")
    | dg.AssetSelection.groups("canonical"),
    description="HR and ERP file drops: load the new files and rebuild the canonical layer.",
)

staffing_refresh = dg.define_asset_job(
    "staffing_refresh",
    selection=dg.AssetSelection.assets(
        ["raw", "crm_opportunity"], ["canonical", "opportunity"], ["marts", "staffing_forecast"]
    ),
    description="CRM opportunities crossed the staffing threshold: reload them and refresh the staffing forecast.",
)

JOBS = [full_pipeline, nightly_sync, entity_settle, firm_view, hourly_sync, file_drop_sync, staffing_refresh]
STAGED = {
    full_pipeline.name: dg.AssetSelection.all(),
    nightly_sync.name: dg.AssetSelection.all(),
    hourly_sync.name: HOURLY,
}
"""The jobs of the date stage, and the whole selection their run starts: the entity_settle and firm_view runs that
follow them (one per legal entity, then one) take the rest of it, stage by stage (DATE_STAGES)."""
