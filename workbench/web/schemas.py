"""What the JSON API answers, as documented in its OpenAPI document: money as exact decimal text (never a float),
dates and times as ISO text. Models allow fields beyond those listed (a later version may add some); the listed ones
are always there with these types."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

Money = str  # an exact decimal, such as "12480.00"


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Me(Open):
    username: str
    role: str


class ExceptionState(Open):
    """An exception's workflow state after an action."""

    state: str
    assignee: str | None
    owner: str | None
    message: str
    waiver_reason: str | None
    due_at: str | None


class ExceptionRow(ExceptionState):
    exception_key: str
    layer: str
    source: str
    object: str
    record_key: str
    rule: str
    amount_at_risk: Money | None
    currency: str | None
    opened_at: str
    updated_at: str
    age_days: int
    overdue: bool


class AuditEntry(Open):
    id: int
    at: str
    actor: str
    action: str
    before: str | None
    after: str | None
    comment: str | None


class ExceptionPage(Open):
    total: int
    offset: int
    items: list[ExceptionRow]


class ExceptionDetail(ExceptionRow):
    history: list[AuditEntry]


class Batch(Open):
    batch_id: str
    as_of_date: str
    legal_entity: str
    customer_id: int
    currency: str
    line_count: int
    net_amount: Money
    tax_amount: Money
    gross_amount: Money
    gross_reporting: Money | None
    reporting_currency: str | None
    state: str = Field(description="pending, released or rejected")
    first_approver: str | None
    decided_by: str | None
    reason: str | None


class BatchLine(Open):
    line_no: int
    idempotency_key: str
    item: str
    quantity: Money
    rate: Money
    amount: Money
    currency: str


class BatchDetail(Batch):
    lines: list[BatchLine]


class Figures(Open):
    """Leakage, realization and utilization of the published as-of date (and margin for the roles that see costs);
    ``as_of`` null when nothing is published yet."""

    as_of: str | None


class Margin(Open):
    as_of: str | None
    items: list[dict]
