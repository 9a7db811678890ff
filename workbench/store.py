"""The workflow store: exception states, assignments, waivers, comments and the audit trail of every action.

A small transactional database over SQLAlchemy, outside the DuckDB warehouse, so that a person's action succeeds
while a sync holds the warehouse, and the next run honours it: SQLite beside the warehouse by default,
PostgreSQL in production (``PSSYNC_WORKFLOW_URL``). Its schema is migrated with Alembic
(``workbench/migrations``); ``open_store`` brings a store to the newest revision before it is used.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

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

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(warehouse: str) -> str:
    """SQLite beside the warehouse: ``workflow.db`` in the warehouse's folder."""
    return f"sqlite:///{Path(warehouse).resolve().parent / 'workflow.db'}"


def migrate(url: str) -> None:
    """Bring the store at ``url`` to the newest Alembic revision (creating it if new)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def open_store(url: str) -> sa.Engine:
    """An engine on the migrated store."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    migrate(url)
    return sa.create_engine(url)
