"""Jobs. Their executor is the code location's (dagster_project/executors.py): in process on an embedded warehouse
(DuckDB allows one writer per file, and the instance queues runs one at a time, see dagster_home/dagster.yaml),
Celery workers on a shared one (dagster_home/production/dagster.yaml)."""

import dagster as dg

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
    ["recon", "time_to_bill"],
    ["recon", "billing_line_exceptions"],
    ["recon", "contractor_hours"],
    ["workbench", "exception_states"],
    ["billing", "erp_publication"],
    ["workbench", "business_events"],
)

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Every asset, in process: what `pssync run` and the demo materialize.",
)

nightly_sync = dg.define_asset_job(
    "nightly_sync",
    selection=dg.AssetSelection.all(),
    description="Everything for yesterday (UTC): extract every source, canonical, recon, billing batches, marts.",
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

JOBS = [full_pipeline, nightly_sync, hourly_sync, file_drop_sync, staffing_refresh]
