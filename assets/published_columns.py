"""The columns of the published recon and billing tables, with their business meaning: Dagster shows them as the
assets' column schema before anything is materialized (docs/recon.md and docs/billing.md say more)."""

from __future__ import annotations

import dagster as dg

TIME_TO_BILL = [
    ("time_entry_id", "BIGINT", "PSA time entry"),
    ("revision", "INTEGER", "its latest revision as of the date"),
    ("employee_id", "VARCHAR", "HR employee of the PSA resource (null when unmapped)"),
    ("resource_id", "BIGINT", "PSA resource"),
    ("project_code", "VARCHAR", "PSA project code"),
    ("contract_id", "VARCHAR", "root CRM contract of the project"),
    ("customer_id", "BIGINT", "ERP customer of the project's CRM account (null when unmapped)"),
    ("legal_entity", "VARCHAR", "the project's legal entity"),
    ("work_date", "DATE", "date the work was performed"),
    ("approved_at", "TIMESTAMP", "approval time"),
    ("hours", "DECIMAL", "minutes / 60, exact"),
    ("quantity", "DECIMAL(18,2)", "hours rounded half-up to 2 decimals: the quantity billed"),
    ("billable", "BOOLEAN", "the entry is billable"),
    ("entry_status", "VARCHAR", "PSA status of the latest revision"),
    ("role", "VARCHAR", "billed role: the covering assignment's, else the resource's"),
    ("region", "VARCHAR", "the resource's region"),
    (
        "expected_rate",
        "DECIMAL(18,4)",
        "rate card rate for the contract version, role, region and currency, less the discount",
    ),
    ("expected_amount", "DECIMAL(18,2)", "round(quantity x expected rate, 2)"),
    ("currency", "VARCHAR", "the contract's currency"),
    ("billed_quantity", "DECIMAL(18,2)", "net quantity of its lines on non-Voided invoices"),
    ("billed_amount", "DECIMAL(18,2)", "net amount of those lines"),
    ("billed_rate", "DECIMAL(18,4)", "rate of its first PS-TM-HOURS line"),
    ("billed_line_count", "BIGINT", "billed lines (PS-TM-HOURS and PS-ADJUSTMENT)"),
    ("invoice_numbers", "VARCHAR", "invoices that carry it"),
    ("batch_id", "VARCHAR", "pssync batch that carries it"),
    ("recon_status", "VARCHAR", "first matching rule: NOT_APPROVED_BILLED ... UNBILLED (docs/recon.md)"),
    ("reason", "VARCHAR", "why: INELIGIBLE reasons, MISSING_RATE, PARTIAL_CAP, INPUT_HELD"),
    ("owner", "VARCHAR", "who acts: finance, delivery, hr (or the faulty input's owner)"),
    ("amount_at_risk", "DECIMAL(18,2)", "money at stake, in the entry's currency"),
    ("amount_at_risk_reporting", "DECIMAL(18,2)", "the same in the reporting currency"),
    ("age_days", "BIGINT", "days since approval, for unbilled work"),
    ("as_of_date", "DATE", "the business date reconciled"),
    ("billing_hold", "VARCHAR", "the faulty input that holds its billing (recon.billing_holds), if any"),
]
BATCH_LINES = [
    ("batch_id", "VARCHAR", "BB-<legal entity>-<customer>-<currency>-<YYYYMMDD>"),
    ("line_no", "INTEGER", "from 1"),
    ("idempotency_key", "VARCHAR", "item:source id:source revision, carried by one batch ever"),
    ("item", "VARCHAR", "PS-TM-HOURS, PS-ADJUSTMENT, PS-FF-MILESTONE, PS-EXPENSE"),
    ("source_id", "BIGINT", "time entry, milestone or expense"),
    ("source_revision", "INTEGER", "its revision"),
    ("project_code", "VARCHAR", "PSA project"),
    ("customer_id", "BIGINT", "ERP customer"),
    ("legal_entity", "VARCHAR", "legal entity"),
    ("currency", "VARCHAR", "batch currency"),
    ("service_date", "DATE", "work, acceptance or expense date"),
    ("quantity", "DECIMAL(18,2)", "billed quantity"),
    ("rate", "DECIMAL(18,4)", "rate"),
    ("amount", "DECIMAL(18,2)", "round(quantity x rate, 2)"),
    ("tax_code", "VARCHAR", "the customer's tax code"),
    ("tax_rate", "DECIMAL(9,6)", "its rate on the service date"),
    ("tax_amount", "DECIMAL(18,2)", "round(amount x tax rate, 2)"),
    ("as_of_date", "DATE", "the batch's as-of date"),
]
BATCHES = [
    ("batch_id", "VARCHAR", "BB-<legal entity>-<customer>-<currency>-<YYYYMMDD>"),
    ("as_of_date", "DATE", "the business date emitted"),
    ("legal_entity", "VARCHAR", "legal entity"),
    ("customer_id", "BIGINT", "ERP customer"),
    ("currency", "VARCHAR", "currency"),
    ("line_count", "INTEGER", "lines"),
    ("net_amount", "DECIMAL(18,2)", "sum of the rounded line amounts"),
    ("tax_amount", "DECIMAL(18,2)", "sum of the rounded line taxes"),
    ("gross_amount", "DECIMAL(18,2)", "net + tax"),
]


def schema(columns: list[tuple[str, str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(n, t, description=d) for n, t, d in columns])
