"""When the pipeline's findings were last read: a sync reads only what changed since.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_syncs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("findings_read", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pipeline_syncs")
