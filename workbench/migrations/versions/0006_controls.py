"""Controls: users can be disabled and carry an auth version (a session or token of an older version is void),
API tokens expire and are revoked, sign-in failures are throttled, web sessions are records on the server, the
approval policy lives in the store (with each batch's gross in the reporting currency), and event deliveries are
leased to one sender at a time.

Revision ID: 0006
Revises: 0005
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime))
        batch.add_column(sa.Column("auth_version", sa.Integer, nullable=False, server_default="1"))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime))
        batch.add_column(sa.Column("revoked_at", sa.DateTime))
        batch.add_column(sa.Column("auth_version", sa.Integer, nullable=False, server_default="1"))
    with op.batch_alter_table("batch_reviews") as batch:
        batch.add_column(sa.Column("gross_reporting", sa.Numeric(18, 2)))
        batch.add_column(sa.Column("reporting_currency", sa.String(3)))
    with op.batch_alter_table("event_deliveries") as batch:
        batch.add_column(sa.Column("leased_by", sa.String(64)))
        batch.add_column(sa.Column("leased_until", sa.DateTime))
    # tokens issued before expiry existed live 90 days from their issue, like new ones (fail closed: none lives forever)
    tokens = sa.table(
        "api_tokens",
        sa.column("token_hash"),
        sa.column("created_at", sa.DateTime),
        sa.column("expires_at", sa.DateTime),
    )
    bind = op.get_bind()
    for token_hash, created in bind.execute(sa.select(tokens.c.token_hash, tokens.c.created_at)).all():
        bind.execute(
            tokens.update().where(tokens.c.token_hash == token_hash).values(expires_at=created + timedelta(days=90))
        )
    op.create_table(
        "sign_in_failures",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.DateTime, nullable=False),
        sa.Column("locked_until", sa.DateTime),
    )
    op.create_table(
        "web_sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(120), nullable=False, index=True),
        sa.Column("auth_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
    )
    policies = op.create_table(
        "policies",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.bulk_insert(
        policies,
        [dict(name="dual_approval_above", value="50000.00", updated_by="pssync", updated_at=datetime(2026, 12, 7))],
    )


def downgrade() -> None:
    op.drop_table("policies")
    op.drop_table("web_sessions")
    op.drop_table("sign_in_failures")
    with op.batch_alter_table("event_deliveries") as batch:
        batch.drop_column("leased_until")
        batch.drop_column("leased_by")
    with op.batch_alter_table("batch_reviews") as batch:
        batch.drop_column("reporting_currency")
        batch.drop_column("gross_reporting")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("auth_version")
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("auth_version")
        batch.drop_column("disabled_at")
