"""The audit trail is append-only in the database itself: an UPDATE or DELETE of a row is refused. The worklist's
index: exceptions by owner and state, the most money at risk first.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MESSAGE = "the audit trail is append-only: rows are never updated or deleted"


def upgrade() -> None:
    op.create_index("exception_worklist", "exception_states", ["owner", "state", "amount_at_risk"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION pssync_audit_append_only() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{MESSAGE}'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail "
            "FOR EACH ROW EXECUTE FUNCTION pssync_audit_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_trail_no_{event.lower()} BEFORE {event} ON audit_trail "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade() -> None:
    op.drop_index("exception_worklist", "exception_states")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_trail_append_only ON audit_trail")
        op.execute("DROP FUNCTION pssync_audit_append_only()")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_trail_no_{event}")
