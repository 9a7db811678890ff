"""The workflow store: exception states, assignments, waivers, comments, batch releases, the event outbox, the
workbench's users and the audit trail of every action.

A small transactional database over SQLAlchemy, outside the DuckDB warehouse, so that a person's action succeeds
while a sync holds the warehouse, and the next run honours it: SQLite beside the warehouse by default,
PostgreSQL in production (``PSSYNC_WORKFLOW_URL``). Its schema is migrated with Alembic
(``workbench/migrations``); ``open_store`` brings a store to the newest revision before it is used.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

metadata = sa.MetaData()

# one row per exception of ops.exceptions (its key: layer|source|object|record_key|rule)
exception_states = sa.Table(
    "exception_states",
    metadata,
    sa.Column("exception_key", sa.String(600), primary_key=True),
    sa.Column("layer", sa.String(40), nullable=False),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("object", sa.String(80), nullable=False),
    sa.Column("record_key", sa.String(300), nullable=False),
    sa.Column("rule", sa.String(120), nullable=False),
    sa.Column("owner", sa.String(40)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # open | acknowledged | resolved | waived
    sa.Column("assignee", sa.String(120)),
    sa.Column("finding", sa.String(64), nullable=False),  # a digest of what the pipeline last found
    sa.Column("waived_finding", sa.String(64)),  # the finding a waiver accepted
    sa.Column("waiver_reason", sa.String(40)),
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("due_at", sa.DateTime),  # opened (or reopened) + the owner's SLA
    sa.Column("escalated_at", sa.DateTime),  # when it was found overdue (once per opening)
    sa.Column("amount_at_risk", sa.Numeric(18, 2)),  # the money the finding puts at risk, where it names it
    sa.Column("currency", sa.String(3)),
    sa.Index("exception_worklist", "owner", "state", "amount_at_risk"),
)

# every action, appended, never updated or deleted: who, when, what, the state before and after
audit_trail = sa.Table(
    "audit_trail",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("exception_key", sa.String(600), nullable=False, index=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("before", sa.Text),  # JSON
    sa.Column("after", sa.Text),  # JSON
    sa.Column("comment", sa.Text),
)

# each reading of the pipeline's findings: the next reads only the exceptions seen or resolved since it started
pipeline_syncs = sa.Table(
    "pipeline_syncs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("findings_read", sa.Integer, nullable=False),
)

# every billing batch the pipeline emitted, and what finance decided: emitted pending, released (after one approval,
# or two by different finance people above the policy's threshold) or rejected; published to the ERP staging
# table only once released (workbench/batches.py)
batch_reviews = sa.Table(
    "batch_reviews",
    metadata,
    sa.Column("batch_id", sa.String(80), primary_key=True),
    sa.Column("as_of_date", sa.Date, nullable=False),
    sa.Column("legal_entity", sa.String(20), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("net_amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("tax_amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("gross_amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # pending | released | rejected
    sa.Column("emitted_at", sa.DateTime, nullable=False),
    sa.Column("first_approver", sa.String(120)),  # the first of two approvals a large batch needs
    sa.Column("first_approved_at", sa.DateTime),
    sa.Column("decided_by", sa.String(120)),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("reason", sa.Text),
    sa.Column("published_at", sa.DateTime),  # when its lines reached the ERP staging table
    # the gross in the reporting currency at its date's rate: what the dual-approval threshold is compared with
    # (NULL: no rate known, two approvals needed)
    sa.Column("gross_reporting", sa.Numeric(18, 2)),
    sa.Column("reporting_currency", sa.String(3)),
)

# the outbox of business events, each with a stable id; delivered at least once to every sink (events.py)
events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(600), nullable=False),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON
)

# per event and sink: pending until delivered, retried with backoff, dead after the last attempt
event_deliveries = sa.Table(
    "event_deliveries",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("sink", sa.String(300), primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", sa.DateTime),
    sa.Column("leased_by", sa.String(64)),  # the sender that took it (events.deliver): no other sends it meanwhile
    sa.Column("leased_until", sa.DateTime),
)

# the workbench's people and service accounts: a role each, passwords as scrypt hashes, API tokens as SHA-256
users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(120), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),  # finance | delivery | hr | analyst | admin
    sa.Column("password_hash", sa.String(300)),  # NULL: a service account, API tokens only
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("disabled_at", sa.DateTime),  # set: signs in no more, every session and token void
    # raised by a change of role or password and by disablement: sessions and tokens of an older version are void
    sa.Column("auth_version", sa.Integer, nullable=False, server_default="1"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(120), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("revoked_at", sa.DateTime),
    sa.Column("auth_version", sa.Integer, nullable=False, server_default="1"),
)

# failed sign-ins per user ("user:NAME") and per address ("addr:IP"): backoff, then a lockout
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", sa.DateTime, nullable=False),
    sa.Column("locked_until", sa.DateTime),
)

# the workbench's sessions, on the server: the cookie names one, and signing out ends it for every copy of the cookie
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(120), nullable=False, index=True),
    sa.Column("auth_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime),
)

# the controls' settings (workbench/policy.py): changed by an admin only, each change audited and told as an event
policies = sa.Table(
    "policies",
    metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("updated_by", sa.String(120), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(url: str) -> None:
    """Bring the store at ``url`` to the newest Alembic revision (creating it if new)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


@functools.cache
def head() -> str:
    """The newest revision of the migrations."""
    revision = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migration in {MIGRATIONS}")
    return revision


@contextlib.contextmanager
def writing(engine: sa.Engine):
    """A transaction that changes the store: on SQLite it takes the write lock first (BEGIN IMMEDIATE), so two
    writers never both read a state and then both change it; the second waits and reads what the first wrote
    (PostgreSQL's row locks do the same for ``SELECT ... FOR UPDATE``)."""
    with engine.begin() as con:
        if con.dialect.name == "sqlite":
            con.exec_driver_sql("BEGIN IMMEDIATE")
        yield con


def open_store(url: str) -> sa.Engine:
    """An engine on the store, migrated to the newest revision first if it is not there yet."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **({"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}))
    try:
        with engine.connect() as con:
            current = con.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        current = None
    if current != head():
        migrate(url)
    return engine
