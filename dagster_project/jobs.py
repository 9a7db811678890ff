"""Jobs. Their executor is the code location's (dagster_project/executors.py): in process on an embedded warehouse
(DuckDB allows one writer per file, and the instance queues runs one at a time, see dagster_home/dagster.yaml),
Celery workers on a shared one (dagster_home/production/dagster.yaml)."""

import dagster as dg

from assets.billing.assets import ENTITY_BILLING

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
    ["recon", "billing_line_exceptions"],
    ["recon", "contractor_hours"],
    ["workbench", "exception_states"],
    ["billing", "erp_publication"],
    ["workbench", "business_events"],
)

FIRM_VIEW = ENTITY_BILLING.downstream(include_self=False)
"""What reads the batches of every entity of a date (the published snapshot, ERP publication, business events): a
run of its own once the date's entities have billed."""

DATE_ASSETS = dg.AssetSelection.all() - ENTITY_BILLING - FIRM_VIEW
"""Every asset partitioned by the as-of date alone and upstream of billing (a run targets one partition of one
partitions definition)."""

DATE_STAGES = (("date", DATE_ASSETS), ("entity_billing", ENTITY_BILLING), ("firm_view", FIRM_VIEW))
"""The runs that settle a date, in order: its assets, then every legal entity's billing, then the firm-wide view
over them (dagster_project/pipeline.py, run_pipeline; the sensors chain them on the production instance)."""

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=DATE_ASSETS,
    description="Every asset of the as-of date upstream of billing, in process; `pssync run` and the demo then run "
    "entity_billing over every legal entity of the date, then firm_view.",
)

nightly_sync = dg.define_asset_job(
    "nightly_sync",
    selection=DATE_ASSETS,
    description="Everything for yesterday (UTC) upstream of billing: extract every source, canonical, recon, marts; "
    "when it succeeds, entity_billing_sensor starts one billing run per legal entity, then firm_view_sensor "
    "firm_view.",
)

entity_billing = dg.define_asset_job(
    "entity_billing",
    selection=ENTITY_BILLING,
    description="The billing batches and files of one legal entity on one as-of date: the entities of a date run "
    "side by side (each records its batches in a transaction of its own, exactly once).",
)

firm_view = dg.define_asset_job(
    "firm_view",
    selection=FIRM_VIEW,
    description="After every legal entity of the date has billed: the published snapshot analysts read, released "
    "batches to the ERP staging table, business events.",
)

hourly_sync = dg.define_asset_job(
    "hourly_sync",
    selection=HOURLY,
    description="Approved time and invoices incrementally, then recon and exceptions as of today, released batches to "
    "the ERP staging table and business events to their subscribers. No new billing.",
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

JOBS = [full_pipeline, nightly_sync, entity_billing, firm_view, hourly_sync, file_drop_sync, staffing_refresh]
SETTLES_DATE = {full_pipeline.name, nightly_sync.name}
"""The jobs after which a date's billing follows, one entity_billing run per legal entity."""
