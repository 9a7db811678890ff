"""pandera contracts of the canonical layer: one DataFrameModel per canonical history table.

Column types, keys, required fields, value sets, ranges and cross-field rules. Rows that break a
contract are quarantined by ``checks.quarantine``; the rest flow on.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine as pe

Money = Annotated[pe.Decimal, 18, 2]
Rate = Annotated[pe.Decimal, 18, 4]
FxRate = Annotated[pe.Decimal, 18, 6]
Hours = Annotated[pe.Decimal, 10, 2]

TIME_STATUSES = ["draft", "submitted", "approved", "rejected"]
# values that become part of a batch id and so of a file name: only the characters the sources allow
LEGAL_ENTITY = r"^[A-Z0-9]{2,12}$"
CURRENCY = r"^[A-Z]{3}$"


class Contract(pa.DataFrameModel):
    """Base of every contract: extra columns (lineage) are allowed, types are checked, not coerced."""

    class Config:
        strict = False
        coerce = False


class ClientContract(Contract):
    crm_account_id: str = pa.Field(str_length={"min_value": 18, "max_value": 18})
    client_name: str
    currency: str = pa.Field(str_length=3)
    erp_customer_id: int | None = pa.Field(nullable=True, gt=0)
    is_deleted: bool
    system_modstamp: dt.datetime


class OpportunityContract(Contract):
    opportunity_id: str = pa.Field(str_length={"min_value": 18, "max_value": 18})
    crm_account_id: str
    stage: str = pa.Field(isin=["Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"])
    probability: float = pa.Field(ge=0, le=100)
    is_deleted: bool
    system_modstamp: dt.datetime

    @pa.dataframe_check(name="start_before_end")
    def start_before_end(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("start_date").is_null() | pl.col("end_date").is_null() | (pl.col("start_date") <= pl.col("end_date"))
        )


class ContractVersionContract(Contract):
    contract_id: str = pa.Field(str_length={"min_value": 18, "max_value": 18})
    status: str = pa.Field(isin=["Draft", "Activated", "Expired", "Terminated"])
    start_date: dt.date
    billing_type: str | None = pa.Field(nullable=True, isin=["tm", "fixed_fee"])
    discount_percent: Annotated[pe.Decimal, 9, 4] = pa.Field(ge=0, le=100)
    nte_hours: Money | None = pa.Field(nullable=True, ge=0)
    currency: str = pa.Field(str_matches=CURRENCY)
    legal_entity: str | None = pa.Field(nullable=True, str_matches=LEGAL_ENTITY)

    @pa.dataframe_check(name="start_before_end")
    def start_before_end(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("end_date").is_null() | (pl.col("start_date") <= pl.col("end_date")))


class ResourceContract(Contract):
    resource_id: int
    region: str = pa.Field(isin=["NA", "UK", "EU", "APAC"])
    updated_at: dt.datetime


class ProjectContract(Contract):
    project_id: int
    project_code: str
    legal_entity: str = pa.Field(str_matches=LEGAL_ENTITY)
    currency: str | None = pa.Field(nullable=True, str_matches=CURRENCY)
    billing_type: str = pa.Field(isin=["tm", "fixed_fee", "non_billable"])
    status: str = pa.Field(isin=["active", "on_hold", "closed"])
    updated_at: dt.datetime


class AssignmentContract(Contract):
    assignment_id: int
    project_id: int
    resource_id: int
    role: str
    hours_per_week: Hours | None = pa.Field(nullable=True, ge=0)

    @pa.dataframe_check(name="start_before_end")
    def start_before_end(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("end_date").is_null() | (pl.col("start_date") <= pl.col("end_date")))


class TimeEntryContract(Contract):
    time_entry_id: int
    revision: int = pa.Field(ge=1)
    resource_id: int
    project_id: int
    work_date: dt.date
    time_in_minutes: int = pa.Field(gt=0)
    billable: bool
    status: str = pa.Field(isin=TIME_STATUSES)
    updated_at: dt.datetime

    @pa.dataframe_check(name="approved_has_approved_at")
    def approved_has_approved_at(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("status") != "approved") | pl.col("approved_at").is_not_null())


class MilestoneContract(Contract):
    milestone_id: int
    project_id: int
    amount: Money = pa.Field(ge=0)
    currency: str | None = pa.Field(nullable=True, str_matches=CURRENCY)
    status: str = pa.Field(isin=["open", "accepted", "cancelled"])

    @pa.dataframe_check(name="accepted_has_accepted_at")
    def accepted_has_accepted_at(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("status") != "accepted") | pl.col("accepted_at").is_not_null())


class ExpenseContract(Contract):
    expense_id: int
    project_id: int
    amount: Money = pa.Field(ge=0)
    currency: str = pa.Field(str_matches=CURRENCY)
    status: str = pa.Field(isin=["submitted", "approved", "rejected"])

    @pa.dataframe_check(name="approved_has_approved_at")
    def approved_has_approved_at(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("status") != "approved") | pl.col("approved_at").is_not_null())


class EmployeeContract(Contract):
    employee_id: str = pa.Field(str_matches=r"^E\d{6}$")
    worker_type: str = pa.Field(isin=["Regular", "Contingent Worker"])
    hire_date: dt.date
    legal_entity: str
    scheduled_weekly_hours: Hours = pa.Field(ge=0, le=80)
    hourly_cost_rate: Rate = pa.Field(ge=0)
    valid_from: dt.date

    @pa.dataframe_check(name="valid_from_before_valid_to")
    def valid_from_before_valid_to(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("valid_to").is_null() | (pl.col("valid_from") < pl.col("valid_to")))


class TimeOffContract(Contract):
    employee_id: str
    off_date: dt.date
    hours: Hours = pa.Field(gt=0, le=24)


class HolidayContract(Contract):
    country: str = pa.Field(str_length=2)
    holiday_date: dt.date


class CustomerContract(Contract):
    customer_id: int
    currency: str = pa.Field(str_length=3)


class SubsidiaryContract(Contract):
    subsidiary_id: int
    legal_entity: str


class RateCardContract(Contract):
    rate_card_id: str
    role: str
    region: str
    currency: str = pa.Field(str_length=3)
    hourly_rate: Rate = pa.Field(ge=0)
    effective_from: dt.date

    @pa.dataframe_check(name="effective_from_before_to")
    def effective_from_before_to(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("effective_to").is_null() | (pl.col("effective_from") <= pl.col("effective_to"))
        )


class TaxCodeContract(Contract):
    tax_code: str
    tax_rate: Annotated[pe.Decimal, 9, 6] = pa.Field(ge=0, le=1)
    effective_from: dt.date


class CurrencyRateContract(Contract):
    currency: str = pa.Field(str_length=3)
    effective_date: dt.date
    rate: FxRate = pa.Field(gt=0)


class InvoiceContract(Contract):
    invoice_id: int
    invoice_number: str
    invoice_date: dt.date
    currency: str = pa.Field(str_length=3)
    status: str = pa.Field(isin=["Pending Approval", "Open", "Paid In Full", "Voided"])


class InvoiceLineContract(Contract):
    invoice_id: int
    line: int = pa.Field(ge=1)
    item: str = pa.Field(isin=["PS-TM-HOURS", "PS-FF-MILESTONE", "PS-EXPENSE", "PS-ADJUSTMENT"])
    quantity: Money
    amount: Money


class PaymentContract(Contract):
    payment_id: int
    invoice_id: int
    payment_date: dt.date
    amount: Money


class PayPeriodContract(Contract):
    period_id: str
    start_date: dt.date
    end_date: dt.date
    lock_date: dt.date

    @pa.dataframe_check(name="period_dates_in_order")
    def period_dates_in_order(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("start_date") <= pl.col("end_date")) & (pl.col("end_date") <= pl.col("lock_date"))
        )


class ContractorHoursContract(Contract):
    period_id: str
    employee_id: str
    hours_paid: Money = pa.Field(ge=0)
