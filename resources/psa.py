"""The PSA database, read in bulk over ADBC (SQLite or PostgreSQL) from a SQLAlchemy URL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast
from urllib.parse import quote, urlencode

import adbc_driver_postgresql.dbapi as adbc_postgresql
import adbc_driver_sqlite.dbapi as adbc_sqlite
import dagster as dg
import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from resources.settings import secret


def _frame(table: pa.Table) -> pl.DataFrame:
    """A polars frame over an Arrow table (zero copy); a table always gives a frame, never a series."""
    return cast(pl.DataFrame, pl.from_arrow(table))


class PsaUnavailableError(RuntimeError):
    """The PSA database could not be reached after the configured retries."""


# driver messages that no retry can change: a wrong database, user, password or file
PERMANENT = (
    "does not exist",
    "authentication failed",
    "password",
    "permission denied",
    "no sqlite database",
    "no password supplied",
    "role ",
    "invalid dsn",
    "unknown host",
    "could not translate host name",
)


def is_permanent(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, FileNotFoundError) or any(p in text for p in PERMANENT)


class PsaDatabase(dg.ConfigurableResource):
    """The PSA's relational database (``PSSYNC_PSA_URL``), read with bounded retries and backoff. Connecting
    and every statement are bounded by ``timeout_seconds`` (``PSSYNC_PSA_TIMEOUT``, default 300): a source
    that accepts a connection and never answers fails the PSA steps with a clear message instead of holding
    the warehouse. A URL without a password takes it from ``PSSYNC_PSA_PASSWORD``, ``PGPASSWORD`` or
    ``~/.pgpass`` (libpq), so it never has to appear on a command line."""

    url: str
    retries: int = 3
    backoff_seconds: float = 0.5
    batch_rows: int = 1_000_000
    timeout_seconds: float = 300  # PSSYNC_PSA_TIMEOUT

    @property
    def timeout(self) -> float:
        return self.timeout_seconds

    @property
    def dialect(self) -> str:
        return sa.engine.make_url(self.url).get_backend_name()

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def adbc_uri(self) -> str:
        u = sa.engine.make_url(self.url)
        if u.get_backend_name() == "sqlite":
            return u.database or ""
        if u.password is None and secret("PSSYNC_PSA_PASSWORD"):
            u = u.set(password=secret("PSSYNC_PSA_PASSWORD"))
        ms = int(self.timeout * 1000)
        query = {
            **u.query,
            "connect_timeout": str(max(1, int(self.timeout))),
            "options": f"-c statement_timeout={ms} -c lock_timeout={ms} -c TimeZone=UTC",
        }
        base = u.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        return f"{base}?{urlencode(query, doseq=True, quote_via=quote)}"  # libpq reads %20, not +, as a space

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
                    yield _frame(pa.Table.from_batches(pending))
                    pending, rows, yielded = [], 0, True
            if pending or not yielded:
                yield _frame(pa.Table.from_batches(pending, schema=reader.schema))
        finally:
            cur.close()
            conn.close()

    def _execute(self, query: str):
        if self.dialect == "sqlite":
            if not Path(self.adbc_uri()).exists():
                raise FileNotFoundError(f"no SQLite database at {self.adbc_uri()}")
            conn = adbc_sqlite.connect(self.adbc_uri())
            cur = conn.cursor()
            try:  # another session's lock waits this long, then fails instead of hanging
                cur.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
                cur.fetchall()
            finally:
                cur.close()
        else:
            conn = adbc_postgresql.connect(self.adbc_uri())
        try:
            cur = conn.cursor()
            cur.execute(query)
        except Exception:
            conn.close()
            raise
        return conn, cur

    def _with_retries(self, fn):
        """Transient failures are retried with backoff; a permanent one (wrong database, credentials, file)
        fails at once. The message names the setting to fix and never the password."""
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                return fn()
            except Exception as exc:
                last = exc
                if is_permanent(exc):
                    raise PsaUnavailableError(
                        f"PSA database {self.safe_url} (PSSYNC_PSA_URL): {_first_line(exc)}"
                    ) from exc
                if attempt < self.retries - 1:
                    time.sleep(self.backoff_seconds * 2**attempt)
        hint = " (timed out: PSSYNC_PSA_TIMEOUT)" if "timeout" in str(last).lower() else ""
        raise PsaUnavailableError(
            f"PSA database {self.safe_url} unreachable after {self.retries} attempts{hint}: {_first_line(last)}"
        ) from last


def _first_line(exc: Exception | None) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
