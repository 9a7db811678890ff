"""What the JSON API takes and answers, as its OpenAPI document describes it. Every answer goes through its model
(the routes' ``response_model``): money as exact decimal text (never a float), dates and times as ISO text. Answers
allow fields beyond those listed (a later version may add some); the listed ones are always there with these
types."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from workbench.lifecycle import WAIVER_REASONS

Money = Decimal  # an exact decimal, sent as text such as "12480.00"
# the store keeps UTC times without their zone: the API says which zone they are in ("2026-11-25T09:00:00Z")
UtcTime = Annotated[datetime, AfterValidator(lambda t: t if t.tzinfo else t.replace(tzinfo=UTC))]
# text a database can store, as the API's schema says: no NUL character (``deps.clean`` checks valid Unicode too)
TEXT = r"^[^\x00]*$"


class ExceptionAction(BaseModel):
    """A person's action on one exception (the key is layer|source|object|record_key|rule)."""

    key: str = Field(min_length=1, max_length=600, pattern=TEXT)
    action: Literal["ack", "assign", "waive", "comment"]
    assignee: str | None = Field(None, max_length=120, pattern=TEXT)
    reason: Literal[WAIVER_REASONS] | None = None  # type: ignore[valid-type]
    comment: str | None = Field(None, max_length=4000, pattern=TEXT)


class BatchDecision(BaseModel):
    """A finance user's decision on a pending batch."""

    decision: Literal["release", "reject"]
    reason: str | None = Field(None, max_length=2000, pattern=TEXT)


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (401, "no valid session or token"),
        (403, "the caller's role may not do this"),
        (404, "no such thing, or not one the role sees"),
        (409, "the state does not allow it (already decided, changed meanwhile)"),
        (411, "a body without its length"),
        (413, "a body over the limit"),
        (422, "a parameter or body that is not valid"),
        (429, "too many requests: see Retry-After"),
    )
}
"""Every status an API operation may answer besides its success, documented so that clients (and schemathesis) can
rely on the document."""


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
    due_at: UtcTime | None


class ExceptionRow(ExceptionState):
    exception_key: str
    layer: str
    source: str
    object: str
    record_key: str
    rule: str
    amount_at_risk: Money | None
    currency: str | None
    opened_at: UtcTime
    updated_at: UtcTime
    age_days: int
    overdue: bool


class AuditEntry(Open):
    id: int
    at: UtcTime
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
    as_of_date: date
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

    as_of: date | None


class Margin(Open):
    as_of: date | None
    items: list[dict]
