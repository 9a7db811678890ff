"""The PSA database: its schema (SQLAlchemy Core) and a bulk loader for SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import sqlalchemy as sa

metadata = sa.MetaData()

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("resource_id", sa.Integer, primary_key=True),
    sa.Column("hr_employee_id", sa.Text, nullable=True),
    sa.Column("full_name", sa.Text),
    sa.Column("role", sa.Text),
    sa.Column("region", sa.Text),
    sa.Column("active", sa.Boolean),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
projects = sa.Table(
    "projects",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("project_code", sa.Text, unique=True),
    sa.Column("name", sa.Text),
    sa.Column("crm_account_id", sa.Text),
    sa.Column("crm_contract_id", sa.Text, nullable=True),
    sa.Column("legal_entity", sa.Text),
    sa.Column("billing_type", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("start_date", sa.Date),
    sa.Column("end_date", sa.Date, nullable=True),
    sa.Column("currency", sa.Text),
    sa.Column("practice", sa.Text),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("assignment_id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer),
    sa.Column("resource_id", sa.Integer),
    sa.Column("role", sa.Text),
    sa.Column("start_date", sa.Date),
    sa.Column("end_date", sa.Date),
    sa.Column("hours_per_week", sa.Numeric(6, 2)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
time_entries = sa.Table(
    "time_entries",
    metadata,
    # INTEGER PK as the source formats declare it: in SQLite the row id itself (no second key index to build at L)
    sa.Column("time_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("resource_id", sa.Integer),
    sa.Column("project_id", sa.Integer),
    sa.Column("task_code", sa.Text),
    sa.Column("date_performed", sa.Date),
    sa.Column("time_in_minutes", sa.Integer),
    sa.Column("billable", sa.Boolean),
    sa.Column("status", sa.Text),
    sa.Column("submitted_at", sa.DateTime, nullable=True),
    sa.Column("approved_at", sa.DateTime, nullable=True),
    sa.Column("approver_resource_id", sa.Integer, nullable=True),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("revision", sa.Integer),
    sa.Column("deleted_at", sa.DateTime, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_time_entries_updated_at", "updated_at"),
)
milestones = sa.Table(
    "milestones",
    metadata,
    sa.Column("milestone_id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer),
    sa.Column("name", sa.Text),
    sa.Column("amount_in_cents", sa.BigInteger),
    sa.Column("currency", sa.Text),
    sa.Column("due_date", sa.Date),
    sa.Column("status", sa.Text),
    sa.Column("accepted_at", sa.DateTime, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
expenses = sa.Table(
    "expenses",
    metadata,
    sa.Column("expense_id", sa.Integer, primary_key=True),
    sa.Column("resource_id", sa.Integer),
    sa.Column("project_id", sa.Integer),
    sa.Column("expense_date", sa.Date),
    sa.Column("category", sa.Text),
    sa.Column("amount_in_cents", sa.BigInteger),
    sa.Column("currency", sa.Text),
    sa.Column("billable", sa.Boolean),
    sa.Column("status", sa.Text),
    sa.Column("approved_at", sa.DateTime, nullable=True),
    sa.Column("deleted_at", sa.DateTime, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

TABLES = [resources, projects, assignments, time_entries, milestones, expenses]
CHUNK_ROWS = 500_000


def _lookup(strings: pl.Series, index: pl.Expr) -> pl.Expr:
    return pl.lit(strings).gather(index)


def _iso(df: pl.DataFrame, name: str, dtype, sqlite: bool) -> pl.Expr:
    """A Date or Datetime column as the ISO text both SQLAlchemy dialects read back. Days and seconds of the day
    are looked up in tables of their few distinct values: chrono's strftime per value took most of a core-minute
    for the 40 M timestamps of an L estate."""
    c = pl.col(name)
    fmt = "%Y-%m-%d" if dtype == pl.Date else ("%Y-%m-%d %H:%M:%S.%6f" if sqlite else "%Y-%m-%d %H:%M:%S+00")
    us = None if dtype == pl.Date else c.dt.cast_time_unit("us").cast(pl.Int64)
    days = c.cast(pl.Int32).cast(pl.Int64) if dtype == pl.Date else us.floordiv(86_400_000_000)
    lo, hi = df.select(lo=days.min(), hi=days.max()).row(0)
    if lo is None or hi - lo > 50_000 or getattr(dtype, "time_zone", None):  # rare: strftime it is
        return c.dt.strftime(fmt)
    day = _lookup(pl.Series(range(lo, hi + 1)).cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d"), days - lo)
    if dtype == pl.Date:
        return day
    of_day = us - days * 86_400_000_000
    hms = _lookup(_clock(), of_day // 1_000_000)
    frac = (of_day % 1_000_000 + 1_000_000).cast(pl.Utf8).str.slice(1)  # the leading 1 keeps the zeros
    return pl.concat_str(
        [day, pl.lit(" "), hms, pl.lit("."), frac] if sqlite else [day, pl.lit(" "), hms, pl.lit("+00")]
    )


def _clock() -> pl.Series:
    """HH:MM:SS for every second of a day."""
    return pl.Series(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))


def _text_frame(df: pl.DataFrame, sqlite: bool) -> pl.DataFrame:
    """Dates and timestamps as ISO text (what both SQLAlchemy dialects read back); booleans as 0/1 in SQLite."""
    cols = []
    for name, dtype in df.schema.items():
        c = pl.col(name)
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            c = _iso(df, name, dtype, sqlite)
        elif dtype == pl.Boolean and sqlite:
            c = c.cast(pl.Int8)
        elif isinstance(dtype, (pl.Enum, pl.Categorical)):
            c = c.cast(pl.Utf8)
        cols.append(c.alias(name))
    return df.select(cols)


def _text_chunks(frame: pl.DataFrame | pl.LazyFrame, sqlite: bool):
    """The frame as text-typed chunks of CHUNK_ROWS; the next chunk is built and converted on another thread while
    the caller writes the current one (both release the GIL), so the two cores share the load. A lazy frame is
    computed a chunk at a time: its derived columns (timestamps of 9 M entries at L) are never held whole."""
    from concurrent.futures import ThreadPoolExecutor

    lazy = frame if isinstance(frame, pl.LazyFrame) else frame.lazy()
    height = lazy.select(pl.len()).collect().item()
    parts = [lazy.slice(offset, CHUNK_ROWS) for offset in range(0, height, CHUNK_ROWS)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_text_frame, parts[0].collect(), sqlite) if parts else None
        for i in range(len(parts)):
            current = pending.result()
            nxt = parts[i + 1] if i + 1 < len(parts) else None
            pending = pool.submit(lambda p: _text_frame(p.collect(), sqlite), nxt) if nxt is not None else None
            yield current


def load(url: str, frames: dict[str, pl.DataFrame | pl.LazyFrame]) -> None:
    """(Re)create the PSA schema at ``url`` and bulk-load the frames (ADBC for SQLite, COPY for PostgreSQL)."""
    engine = sa.create_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    if sqlite:
        import adbc_driver_sqlite.dbapi as adbc

        with engine.begin() as c:  # indexes are built once after the bulk load, not row by row during it
            for table in TABLES:
                for index in table.indexes:
                    index.drop(c)
        with adbc.connect(engine.url.database, autocommit=True) as conn:
            with conn.cursor() as cur:  # a new file being written: no journal to protect it
                cur.execute("PRAGMA journal_mode = OFF")
                cur.execute("PRAGMA synchronous = OFF")
            for table in TABLES:
                frame = frames[table.name].select([c.name for c in table.columns])
                for part in _text_chunks(frame, sqlite=True):
                    part.write_database(table.name, conn, engine="adbc", if_table_exists="append")
        with engine.begin() as c:
            c.exec_driver_sql("PRAGMA threads = 2")  # the sorts of an index build on both cores
            for table in TABLES:
                for index in table.indexes:
                    index.create(c)
    else:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            for table in TABLES:
                frame = frames[table.name].select([c.name for c in table.columns])
                cols = ", ".join(c.name for c in table.columns)
                with cur.copy(f"COPY {table.name} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as cp:
                    for part in _text_chunks(frame, sqlite=False):
                        buf = io.BytesIO()
                        part.write_csv(buf, include_header=False, null_value="\\N", quote_style="necessary")
                        cp.write(buf.getvalue())
            raw.commit()
        finally:
            raw.close()
    engine.dispose()
