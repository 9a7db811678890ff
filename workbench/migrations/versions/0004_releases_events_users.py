"""The amount at risk of an exception; batch releases, the event outbox with its deliveries, users and API tokens.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exception_states") as batch:
        batch.add_column(sa.Column("amount_at_risk", sa.Numeric(18, 2)))
        batch.add_column(sa.Column("currency", sa.String(3)))
    op.create_table(
        "batch_reviews",
        sa.Column("batch_id", sa.String(80), primary_key=True),
        sa.Column("as_of_date", sa.Date, nullable=False),
        sa.Column("legal_entity", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("line_count", sa.Integer, nullable=False),
        sa.Column("net_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("tax_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("gross_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("emitted_at", sa.DateTime, nullable=False),
        sa.Column("first_approver", sa.String(120)),
        sa.Column("first_approved_at", sa.DateTime),
        sa.Column("decided_by", sa.String(120)),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("reason", sa.Text),
        sa.Column("published_at", sa.DateTime),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(600), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("sink", sa.String(300), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(120), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(300)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("api_tokens", "users", "event_deliveries", "events", "batch_reviews"):
        op.drop_table(table)
    with op.batch_alter_table("exception_states") as batch:
        batch.drop_column("currency")
        batch.drop_column("amount_at_risk")
