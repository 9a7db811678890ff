"""Due dates per owner, and when an overdue exception was escalated.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exception_states") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime))
        batch.add_column(sa.Column("escalated_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("exception_states") as batch:
        batch.drop_column("escalated_at")
        batch.drop_column("due_at")
