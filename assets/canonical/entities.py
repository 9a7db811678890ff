"""The canonical entities: which raw objects feed each, its contract, its as-of views."""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa

from checks import contracts as c


@dataclass(frozen=True)
class Entity:
    name: str  # canonical.<name>_history, canonical.<view>_asof(as_of), canonical.<view>
    raw: tuple[str, ...]
    contract: type[pa.DataFrameModel]
    source: str
    owner: str
    description: str
    view: str = ""
    # each history row comes from one raw row alone (no window or aggregate over raw), so new raw rows can be
    # appended without rebuilding the table
    row_local: bool = False
    # further as-of macros defined on this entity's view (sql/canonical/<name>_asof.sql): shared definitions
    derived: tuple[str, ...] = ()
    # the key of an entity whose latest state holds one row per key ever extracted: its row count (the asset's,
    # every run) is the count of distinct keys, kept as rows arrive; empty: count the latest-state view
    latest_key: str = ""

    @property
    def view_name(self) -> str:
        return self.view or self.name


ENTITIES: tuple[Entity, ...] = (
    Entity(
        "client",
        ("crm_account",),
        c.ClientContract,
        "crm",
        "finance",
        "Clients (CRM accounts), every version; the as-of view applies deletions.",
    ),
    Entity(
        "opportunity",
        ("crm_opportunity",),
        c.OpportunityContract,
        "crm",
        "delivery",
        "Sales opportunities with probability and staffing plan, every version.",
    ),
    Entity(
        "contract",
        ("crm_contract",),
        c.ContractVersionContract,
        "crm",
        "finance",
        "Contract versions: root contracts and their amendments (rate card, discount, NTE hours), effective-dated.",
        view="contract_version",
    ),
    Entity("resource", ("psa_resources",), c.ResourceContract, "psa", "delivery", "PSA resources and their HR id."),
    Entity("project", ("psa_projects",), c.ProjectContract, "psa", "delivery", "PSA projects."),
    Entity(
        "assignment",
        ("psa_assignments",),
        c.AssignmentContract,
        "psa",
        "delivery",
        "Who works on which project, in which billed role, when.",
    ),
    Entity(
        "time_entry",
        ("psa_time_entries",),
        c.TimeEntryContract,
        "psa",
        "delivery",
        "Time entries: the full revision history; the as-of view gives each entry's latest state, with hours "
        "(minutes / 60, exact) and quantity (hours rounded half-up to 2 decimals).",
        row_local=True,
        # every entry ever extracted has a latest version, so the latest state holds one row per entry
        latest_key="time_entry_id",
    ),
    Entity("milestone", ("psa_milestones",), c.MilestoneContract, "psa", "delivery", "Fixed-fee milestones, in money."),
    Entity("expense", ("psa_expenses",), c.ExpenseContract, "psa", "delivery", "Expenses, in money."),
    Entity(
        "employee",
        ("hr_workers",),
        c.EmployeeContract,
        "hr",
        "hr",
        "Employees as type-2 history (valid_from, valid_to exclusive) built from the HR snapshots; "
        "`employee_latest_asof(DATE)` is each employee's latest version, `employee_spans_asof(DATE)` the version "
        "in force on each day.",
        derived=("employee_latest", "employee_spans"),
    ),
    Entity("time_off", ("hr_time_off",), c.TimeOffContract, "hr", "hr", "Approved time off by day."),
    Entity("holiday", ("hr_holidays",), c.HolidayContract, "hr", "hr", "Public holidays by country."),
    Entity(
        "customer", ("erp_customers",), c.CustomerContract, "erp", "finance", "ERP customers (latest snapshot wins)."
    ),
    Entity("subsidiary", ("erp_subsidiaries",), c.SubsidiaryContract, "erp", "finance", "ERP subsidiaries."),
    Entity(
        "rate_card",
        ("erp_rate_cards",),
        c.RateCardContract,
        "erp",
        "finance",
        "Rate cards by (card, role, region, currency), effective-dated, 4-decimal rates.",
    ),
    Entity("tax_code", ("erp_tax_codes",), c.TaxCodeContract, "erp", "finance", "Tax codes, rates as fractions."),
    Entity(
        "currency_rate",
        ("erp_currency_rates",),
        c.CurrencyRateContract,
        "erp",
        "finance",
        "Currency rates to the reporting currency, effective-dated.",
    ),
    Entity(
        "invoice",
        ("erp_invoices",),
        c.InvoiceContract,
        "erp",
        "finance",
        "Invoice headers: the version with the latest Last Modified wins; `live_invoice_asof(DATE)` those not Voided.",
        derived=("live_invoice",),
    ),
    Entity(
        "invoice_line",
        ("erp_invoice_lines",),
        c.InvoiceLineContract,
        "erp",
        "finance",
        "Invoice lines: an invoice's latest lines file replaces all its lines; `billed_time_line_asof(DATE)` the "
        "lines of live invoices that bill a time entry.",
        row_local=True,
        derived=("billed_time_line",),
    ),
    Entity("payment", ("erp_payments",), c.PaymentContract, "erp", "finance", "Customer payments."),
    Entity(
        "pay_period", ("payroll_pay_periods",), c.PayPeriodContract, "payroll", "hr", "Payroll periods and lock dates."
    ),
    Entity(
        "contractor_hours",
        ("payroll_contractor_hours",),
        c.ContractorHoursContract,
        "payroll",
        "hr",
        "Hours paid to contingent workers per pay period.",
    ),
)
BY_NAME = {e.name: e for e in ENTITIES}
