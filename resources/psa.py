"""The PSA database, read in bulk over ADBC (SQLite or PostgreSQL) from a SQLAlchemy URL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dagster as dg
import polars as pl
import pyarrow as pa
import sqlalchemy as sa


class PsaUnavailableError(RuntimeError):
    """The PSA database could not be reached after the configured retries."""


class PsaDatabase(dg.ConfigurableResource):
    """The PSA's relational database (``PSSYNC_PSA_URL``), read with bounded retries and backoff."""

    url: str
    retries: int = 3
    backoff_seconds: float = 0.5
    batch_rows: int = 1_000_000

    @property
    def dialect(self) -> str:
        return sa.engine.make_url(self.url).get_backend_name()

    def adbc_uri(self) -> str:
        u = sa.engine.make_url(self.url)
        if u.get_backend_name() == "sqlite":
            return u.database
        return u.set(drivername="postgresql").render_as_string(hide_password=False)

    def ping(self) -> None:
        self.read("SELECT 1 AS ok")

    def read(self, query: str) -> pl.DataFrame:
        """Run a query and return the whole result as a polars frame (Arrow, no per-row objects)."""
        return pl.concat(list(self.read_batches(query)), how="vertical_relaxed")

    def read_batches(self, query: str) -> Iterator[pl.DataFrame]:
        """Run a query (connecting with the bounded retries) and yield its result in frames of about
        ``batch_rows`` rows, so that a full load of millions of rows never sits in memory at once."""
        conn, cur = self._with_retries(lambda: self._execute(query))
        try:
            reader = cur.fetch_record_batch()
            pending: list[pa.RecordBatch] = []
            rows, yielded = 0, False
            for batch in reader:
                pending.append(batch)
                rows += batch.num_rows
                if rows >= self.batch_rows:
                    yield pl.from_arrow(pa.Table.from_batches(pending))
                    pending, rows, yielded = [], 0, True
            if pending or not yielded:
                yield pl.from_arrow(pa.Table.from_batches(pending, schema=reader.schema))
        finally:
            cur.close()
            conn.close()

    def _execute(self, query: str):
        if self.dialect == "sqlite":
            import adbc_driver_sqlite.dbapi as driver
            from pathlib import Path

            if not Path(self.adbc_uri()).exists():
                raise FileNotFoundError(f"no SQLite database at {self.adbc_uri()}")
            conn = driver.connect(self.adbc_uri())
        else:
            import adbc_driver_postgresql.dbapi as driver

            conn = driver.connect(self.adbc_uri())
        try:
            cur = conn.cursor()
            cur.execute(query)
        except Exception:
            conn.close()
            raise
        return conn, cur

    def _with_retries(self, fn):
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - any driver error counts as unreachable
                last = exc
                if attempt < self.retries - 1:
                    time.sleep(self.backoff_seconds * 2**attempt)
        safe = sa.engine.make_url(self.url).render_as_string(hide_password=True)
        raise PsaUnavailableError(f"PSA database {safe} unreachable after {self.retries} attempts: {last}") from last
