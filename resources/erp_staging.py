"""The optional ERP staging table, reached over SQLAlchemy (SQLite or PostgreSQL)."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from resources.settings import secret

metadata = sa.MetaData()
staging = sa.Table(
    "pssync_billing_staging",
    metadata,
    sa.Column("idempotency_key", sa.Text, primary_key=True),
    sa.Column("batch_id", sa.Text, nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("item", sa.Text, nullable=False),
    sa.Column("source_id", sa.BigInteger, nullable=False),
    sa.Column("source_revision", sa.Integer, nullable=False),
    sa.Column("project_code", sa.Text),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("legal_entity", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("service_date", sa.Date, nullable=False),
    sa.Column("quantity", sa.Numeric(18, 2), nullable=False),
    sa.Column("rate", sa.Numeric(18, 4), nullable=False),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("tax_code", sa.Text),
    sa.Column("tax_rate", sa.Numeric(9, 6)),
    sa.Column("tax_amount", sa.Numeric(18, 2)),
)

COLUMNS = [c.name for c in staging.columns]


class ErpStaging(dg.ConfigurableResource):
    """ERP staging table at ``PSSYNC_ERP_STAGING_URL``; publication is off when the URL is empty."""

    url: str = ""

    def engine_url(self) -> sa.URL:
        """The URL, with the password from ``PSSYNC_ERP_STAGING_PASSWORD`` when the URL carries none (else
        libpq's PGPASSWORD / ~/.pgpass apply): a password never has to appear on a command line."""

        u = sa.engine.make_url(self.url)
        if u.password is None and secret("PSSYNC_ERP_STAGING_PASSWORD"):
            u = u.set(password=secret("PSSYNC_ERP_STAGING_PASSWORD"))
        return u

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def publish(self, lines: list[dict], fail_after_rows: int | None = None) -> int:
        """Insert one batch in one transaction, keyed by idempotency_key: a repeated publish inserts
        nothing, a failure leaves nothing of the batch. Returns the rows inserted."""
        engine = sa.create_engine(self.engine_url())
        try:
            metadata.create_all(engine)
            insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
            stmt = (
                insert(staging)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(staging.c.idempotency_key)
            )
            rows = [{c: line[c] for c in COLUMNS} for line in lines]
            cut = len(rows) if fail_after_rows is None else fail_after_rows
            inserted = 0
            with engine.begin() as conn:
                if rows[:cut]:
                    inserted += len(conn.execute(stmt, rows[:cut]).fetchall())
                if fail_after_rows is not None:
                    raise RuntimeError(f"simulated failure after {cut} staging rows")
                if rows[cut:]:
                    inserted += len(conn.execute(stmt, rows[cut:]).fetchall())
            return inserted
        finally:
            engine.dispose()
