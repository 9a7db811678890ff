"""Exception states and the audit trail.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exception_states",
        sa.Column("exception_key", sa.String(600), primary_key=True),
        sa.Column("layer", sa.String(40), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("object", sa.String(80), nullable=False),
        sa.Column("record_key", sa.String(300), nullable=False),
        sa.Column("rule", sa.String(120), nullable=False),
        sa.Column("owner", sa.String(40)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(120)),
        sa.Column("finding", sa.String(64), nullable=False),
        sa.Column("waived_finding", sa.String(64)),
        sa.Column("waiver_reason", sa.String(40)),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "audit_trail",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("exception_key", sa.String(600), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("comment", sa.Text),
    )
    op.create_index("ix_audit_trail_exception_key", "audit_trail", ["exception_key"])


def downgrade() -> None:
    op.drop_index("ix_audit_trail_exception_key", "audit_trail")
    op.drop_table("audit_trail")
    op.drop_table("exception_states")
