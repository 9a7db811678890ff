"""What each source object looks like: fields, types, keys and how its versions are dated.

One declaration per source object of ``sources.md``; the extract assets, the raw tables and
their validation are all derived from these, so a format rule lives in exactly one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEXT, INT, DATE, TS, NUM = "VARCHAR", "BIGINT", "DATE", "TIMESTAMP", "DOUBLE"
MONEY, RATE, FX, HOURS = "DECIMAL(18,2)", "DECIMAL(18,4)", "DECIMAL(18,6)", "DECIMAL(10,2)"
BOOL, YESNO, PERCENT, JSON = "BOOLEAN", "YESNO", "PERCENT", "JSON"


@dataclass(frozen=True)
class Field:
    label: str  # as the source names it
    type: str = TEXT
    required: bool = False

    @property
    def column(self) -> str:
        """Column name in the warehouse: the label itself when it is an identifier, else snake_case."""
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.label):
            return self.label.lower()
        return re.sub(r"[^a-z0-9]+", "_", self.label.lower()).strip("_")


@dataclass(frozen=True)
class SourceObject:
    """One extractable object of a source system."""

    source: str  # crm | psa | hr | erp | payroll
    object: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # labels forming the record key
    kind: str  # crm_pages | workday | csv | psa_table
    pattern: str = ""  # glob below the landing folder (files) or table name (psa)
    dedupe: str = "file"  # file: by file content | record: by record key + content
    source_ts: str | None = None  # label of the field dating a version; None: the file's date
    owner: str = "integration"
    description: str = ""
    # a full snapshot: every file states the whole object as of its date (master data, HR reports)
    snapshot: bool = False

    @property
    def name(self) -> str:
        return f"{self.source}_{self.object}"

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    def field(self, label: str) -> Field:
        return next(f for f in self.fields if f.label == label)


def F(label: str, type_: str = TEXT, required: bool = False) -> Field:
    return Field(label, type_, required)


CRM = (
    SourceObject(
        "crm",
        "account",
        (
            F("Id", TEXT, True),
            F("Name", TEXT, True),
            F("BillingCountry"),
            F("CurrencyIsoCode", TEXT, True),
            F("Industry"),
            F("ERP_Customer_Id__c"),
            F("IsDeleted", BOOL, True),
            F("SystemModstamp", TS, True),
        ),
        key=("Id",),
        kind="crm_pages",
        pattern="crm/*/Account-*.json",
        dedupe="record",
        source_ts="SystemModstamp",
        description="CRM accounts (clients), every version by SystemModstamp.",
    ),
    SourceObject(
        "crm",
        "opportunity",
        (
            F("Id", TEXT, True),
            F("AccountId", TEXT, True),
            F("Name"),
            F("StageName", TEXT, True),
            F("Probability", NUM, True),
            F("Amount", NUM),
            F("CurrencyIsoCode"),
            F("CloseDate", DATE),
            F("Practice__c"),
            F("Start_Date__c", DATE),
            F("End_Date__c", DATE),
            F("Staffing_Plan__c", JSON),
            F("IsClosed", BOOL),
            F("IsWon", BOOL),
            F("IsDeleted", BOOL, True),
            F("SystemModstamp", TS, True),
        ),
        key=("Id",),
        kind="crm_pages",
        pattern="crm/*/Opportunity-*.json",
        dedupe="record",
        source_ts="SystemModstamp",
        description="CRM opportunities: the sales pipeline and its staffing plans.",
    ),
    SourceObject(
        "crm",
        "contract",
        (
            F("Id", TEXT, True),
            F("AccountId", TEXT, True),
            F("Opportunity__c"),
            F("ContractNumber"),
            F("Status", TEXT, True),
            F("StartDate", DATE, True),
            F("EndDate", DATE),
            F("Billing_Type__c"),
            F("Rate_Card__c"),
            F("Discount_Percent__c", NUM),
            F("NTE_Hours__c", NUM),
            F("CurrencyIsoCode", TEXT, True),
            F("Legal_Entity__c"),
            F("Amends__c"),
            F("IsDeleted", BOOL, True),
            F("SystemModstamp", TS, True),
        ),
        key=("Id",),
        kind="crm_pages",
        pattern="crm/*/Contract-*.json",
        dedupe="record",
        source_ts="SystemModstamp",
        description="CRM contracts and their amendments: rate card, discount, not-to-exceed hours.",
    ),
)

PSA = (
    SourceObject(
        "psa",
        "resources",
        (
            F("resource_id", INT, True),
            F("hr_employee_id"),
            F("full_name"),
            F("role"),
            F("region"),
            F("active", BOOL),
            F("updated_at", TS, True),
        ),
        key=("resource_id",),
        kind="psa_table",
        pattern="resources",
        dedupe="record",
        source_ts="updated_at",
        description="PSA resources (people who log time) and their HR employee id.",
    ),
    SourceObject(
        "psa",
        "projects",
        (
            F("project_id", INT, True),
            F("project_code", TEXT, True),
            F("name"),
            F("crm_account_id"),
            F("crm_contract_id"),
            F("legal_entity"),
            F("billing_type", TEXT, True),
            F("status", TEXT, True),
            F("start_date", DATE),
            F("end_date", DATE),
            F("currency"),
            F("practice"),
            F("updated_at", TS, True),
        ),
        key=("project_id",),
        kind="psa_table",
        pattern="projects",
        dedupe="record",
        source_ts="updated_at",
        description="PSA projects: billing type, status, root CRM contract.",
    ),
    SourceObject(
        "psa",
        "assignments",
        (
            F("assignment_id", INT, True),
            F("project_id", INT),
            F("resource_id", INT),
            F("role"),
            F("start_date", DATE),
            F("end_date", DATE),
            F("hours_per_week", HOURS),
            F("updated_at", TS, True),
        ),
        key=("assignment_id",),
        kind="psa_table",
        pattern="assignments",
        dedupe="record",
        source_ts="updated_at",
        description="PSA assignments: who works on which project in which billed role.",
    ),
    SourceObject(
        "psa",
        "time_entries",
        (
            F("time_entry_id", INT, True),
            F("resource_id", INT),
            F("project_id", INT),
            F("task_code"),
            F("date_performed", DATE),
            F("time_in_minutes", INT),
            F("billable", BOOL),
            F("status", TEXT, True),
            F("submitted_at", TS),
            F("approved_at", TS),
            F("approver_resource_id", INT),
            F("notes"),
            F("revision", INT, True),
            F("deleted_at", TS),
            F("updated_at", TS, True),
        ),
        key=("time_entry_id",),
        kind="psa_table",
        pattern="time_entries",
        dedupe="record",
        source_ts="updated_at",
        description="PSA time entries, every revision seen.",
    ),
    SourceObject(
        "psa",
        "milestones",
        (
            F("milestone_id", INT, True),
            F("project_id", INT),
            F("name"),
            F("amount_in_cents", INT),
            F("currency"),
            F("due_date", DATE),
            F("status", TEXT, True),
            F("accepted_at", TS),
            F("updated_at", TS, True),
        ),
        key=("milestone_id",),
        kind="psa_table",
        pattern="milestones",
        dedupe="record",
        source_ts="updated_at",
        description="PSA fixed-fee milestones.",
    ),
    SourceObject(
        "psa",
        "expenses",
        (
            F("expense_id", INT, True),
            F("resource_id", INT),
            F("project_id", INT),
            F("expense_date", DATE),
            F("category"),
            F("amount_in_cents", INT),
            F("currency"),
            F("billable", BOOL),
            F("status", TEXT, True),
            F("approved_at", TS),
            F("deleted_at", TS),
            F("updated_at", TS, True),
        ),
        key=("expense_id",),
        kind="psa_table",
        pattern="expenses",
        dedupe="record",
        source_ts="updated_at",
        description="PSA expenses.",
    ),
)

HR = (
    SourceObject(
        "hr",
        "workers",
        (
            F("Employee_ID", TEXT, True),
            F("Worker_Name"),
            F("Worker_Type", TEXT, True),
            F("Hire_Date", DATE, True),
            F("Termination_Date", DATE),
            F("Company", TEXT, True),
            F("Cost_Center"),
            F("Cost_Center_Name"),
            F("Country"),
            F("Job_Profile"),
            F("Practice"),
            F("Scheduled_Weekly_Hours", HOURS, True),
            F("Hourly_Cost_Rate", RATE, True),
            F("Cost_Rate_Currency"),
            F("Skills"),
            F("Manager_ID"),
        ),
        key=("Employee_ID",),
        kind="workday",
        pattern="hr/workers_*.json",
        owner="hr",
        snapshot=True,
        description="HR worker snapshots, one full report per drop date.",
    ),
    SourceObject(
        "hr",
        "time_off",
        (F("Employee_ID", TEXT, True), F("Date", DATE, True), F("Hours", HOURS, True), F("Type")),
        key=("Employee_ID", "Date"),
        kind="workday",
        pattern="hr/time_off_*.json",
        owner="hr",
        snapshot=True,
        description="Approved time off, each drop replacing 1 January through its date.",
    ),
    SourceObject(
        "hr",
        "holidays",
        (F("Country", TEXT, True), F("Date", DATE, True), F("Name")),
        key=("Country", "Date"),
        kind="workday",
        pattern="hr/holidays_*.json",
        owner="hr",
        snapshot=True,
        description="Public holidays per country and year.",
    ),
)

ERP = (
    SourceObject(
        "erp",
        "subsidiaries",
        (F("Internal ID", INT, True), F("Name"), F("Legal Entity Code", TEXT, True), F("Country"), F("Currency")),
        key=("Internal ID",),
        kind="csv",
        pattern="erp/subsidiaries_*.csv",
        owner="finance",
        snapshot=True,
        description="ERP subsidiaries (legal entities).",
    ),
    SourceObject(
        "erp",
        "customers",
        (
            F("Internal ID", INT, True),
            F("Customer ID"),
            F("Company Name"),
            F("Subsidiary", INT),
            F("Currency"),
            F("Salesforce Account ID"),
            F("Tax Code"),
            F("Terms"),
            F("Inactive", YESNO),
            F("Last Modified", TS),
        ),
        key=("Internal ID",),
        kind="csv",
        pattern="erp/customers_*.csv",
        owner="finance",
        snapshot=True,
        description="ERP customers, full snapshots.",
    ),
    SourceObject(
        "erp",
        "currency_rates",
        (
            F("Base Currency", TEXT, True),
            F("Transaction Currency", TEXT, True),
            F("Effective Date", DATE, True),
            F("Exchange Rate", FX, True),
        ),
        key=("Transaction Currency", "Effective Date"),
        kind="csv",
        pattern="erp/currency_rates_*.csv",
        owner="finance",
        snapshot=True,
        description="ERP currency rates to the reporting currency.",
    ),
    SourceObject(
        "erp",
        "rate_cards",
        (
            F("Rate Card ID", TEXT, True),
            F("Role", TEXT, True),
            F("Region", TEXT, True),
            F("Currency", TEXT, True),
            F("Hourly Rate", RATE, True),
            F("Effective From", DATE, True),
            F("Effective To", DATE),
        ),
        key=("Rate Card ID", "Role", "Region", "Currency", "Effective From"),
        kind="csv",
        pattern="erp/rate_cards_*.csv",
        owner="finance",
        snapshot=True,
        description="ERP rate cards, effective-dated.",
    ),
    SourceObject(
        "erp",
        "tax_codes",
        (F("Tax Code", TEXT, True), F("Country"), F("Rate", PERCENT, True), F("Effective From", DATE, True)),
        key=("Tax Code", "Effective From"),
        kind="csv",
        pattern="erp/tax_codes_*.csv",
        owner="finance",
        snapshot=True,
        description="ERP tax codes and rates.",
    ),
    SourceObject(
        "erp",
        "invoices",
        (
            F("Internal ID", INT, True),
            F("Document Number", TEXT, True),
            F("Customer", INT),
            F("Subsidiary", INT),
            F("Date", DATE, True),
            F("Due Date", DATE),
            F("Currency", TEXT, True),
            F("Exchange Rate", FX),
            F("Status", TEXT, True),
            F("Billing Batch ID"),
            F("Memo"),
            F("Date Created", TS),
            F("Last Modified", TS, True),
        ),
        key=("Internal ID",),
        kind="csv",
        pattern="erp/invoices_*.csv",
        owner="finance",
        description="ERP invoice headers, daily deltas.",
    ),
    SourceObject(
        "erp",
        "invoice_lines",
        (
            F("Invoice Internal ID", INT, True),
            F("Line", INT, True),
            F("Item", TEXT, True),
            F("Project Code"),
            F("Quantity", MONEY, True),
            F("Rate", RATE),
            F("Amount", MONEY, True),
            F("Tax Code"),
            F("Tax Amount", MONEY),
            F("PSA Time Entry ID", INT),
            F("PSA Milestone ID", INT),
            F("PSA Expense ID", INT),
            F("Service Date", DATE),
        ),
        key=("Invoice Internal ID", "Line"),
        kind="csv",
        pattern="erp/invoice_lines_*.csv",
        owner="finance",
        description="ERP invoice lines, daily deltas (an invoice's latest file replaces its lines).",
    ),
    SourceObject(
        "erp",
        "payments",
        (
            F("Internal ID", INT, True),
            F("Invoice Internal ID", INT, True),
            F("Date", DATE, True),
            F("Amount", MONEY, True),
            F("Currency"),
        ),
        key=("Internal ID",),
        kind="csv",
        pattern="erp/payments_*.csv",
        owner="finance",
        description="ERP customer payments, daily deltas.",
    ),
)

PAYROLL = (
    SourceObject(
        "payroll",
        "pay_periods",
        (
            F("Company", TEXT, True),
            F("Period ID", TEXT, True),
            F("Start Date", DATE, True),
            F("End Date", DATE, True),
            F("Lock Date", DATE, True),
        ),
        key=("Period ID",),
        kind="csv",
        pattern="payroll/pay_periods.csv",
        owner="hr",
        snapshot=True,
        description="Payroll periods and their lock dates.",
    ),
    SourceObject(
        "payroll",
        "contractor_hours",
        (
            F("Period ID", TEXT, True),
            F("Employee ID", TEXT, True),
            F("Hours Paid", MONEY, True),
            F("Hourly Pay Rate", RATE),
            F("Currency"),
        ),
        key=("Period ID", "Employee ID"),
        kind="csv",
        pattern="payroll/contractor_hours_*.csv",
        owner="hr",
        snapshot=True,
        description="Hours paid to contingent workers per pay period.",
    ),
)

ALL: tuple[SourceObject, ...] = CRM + PSA + HR + ERP + PAYROLL
BY_NAME = {s.name: s for s in ALL}
