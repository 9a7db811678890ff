"""Loading a PSA table into the raw layer: the rows updated since the watermark (less a lookback for late
commits), new content only, in one transaction; rows the PSA no longer has are recorded as fixed or vanished."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import polars as pl

from assets.common import now_utc, one_transaction
from assets.extract.fields import TS, SourceObject
from assets.extract.loader import (
    LoadResult,
    ensure_raw_table,
    finish,
    get_watermark,
    insert_frame,
    new_result,
    resolve_fixed,
)
from resources.psa import PsaDatabase

PSA_LOOKBACK = timedelta(hours=2)


def _psa_query(spec: SourceObject, watermark: str | None, dialect: str) -> str:
    """Every column as text: a value the declared type cannot hold (a 20-digit id, a NUMERIC the driver has no
    type for) then rejects its row by the same format rules as the files, instead of failing the load."""

    def text(f) -> str:
        value = f"CAST({f.column} AS TIMESTAMP)" if f.type == TS and dialect != "sqlite" else f.column
        # never NULL: SQLite's driver types a column by its first values, and a leading NULL would type it as a
        # number; '' is read back as null, as the source formats have it (docs/extract.md)
        return f"coalesce(CAST({value} AS TEXT), '') AS {f.column}"

    q = f"SELECT {', '.join(text(f) for f in spec.fields)} FROM {spec.pattern}"
    if watermark:
        since = datetime.fromisoformat(watermark) - PSA_LOOKBACK
        literal = since.strftime("%Y-%m-%d %H:%M:%S")
        q += f" WHERE updated_at > '{literal}'"
    return q + f" ORDER BY {spec.key[0]}"


def _psa_frame(spec: SourceObject, frame: pl.DataFrame, first_row: int) -> pl.DataFrame:
    """The PSA batch as source text, rows numbered from ``first_row`` (the result arrives in batches)."""
    return frame.select(pl.col(f.column).cast(pl.Utf8).replace("", None) for f in spec.fields).with_columns(
        _row_number=pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64), _extra=pl.lit(None, pl.Utf8)
    )


def _fix_vanished(con, spec: SourceObject, psa: PsaDatabase, extract_id: str, at: datetime) -> None:
    """A rejected PSA row whose key the PSA no longer has (a bad id corrected to a new one, a row removed)
    holds nothing any more: the PSA is the system of record and keeps only current rows."""
    keys = [
        k
        for (k,) in con.execute(
            """
        SELECT DISTINCT record_key FROM quarantine.extract_rejects r WHERE object = ? AND record_key <> ''
          AND NOT EXISTS (SELECT 1 FROM quarantine.extract_fixes x WHERE x.reject_extract_id = r.extract_id
                          AND x.record_key = r.record_key)""",
            [spec.name],
        ).fetchall()
    ]
    if not keys:
        return
    key, present = spec.key[0], set()
    for i in range(0, len(keys), 500):
        literals = ", ".join("'" + k.replace("'", "''") + "'" for k in keys[i : i + 500])
        present |= set(
            psa.read(f"SELECT CAST({key} AS TEXT) AS k FROM {spec.pattern} WHERE CAST({key} AS TEXT) IN ({literals})")[
                "k"
            ].to_list()
        )
    gone = [k for k in keys if k not in present]
    if gone:
        con.executemany(
            """INSERT INTO quarantine.extract_fixes SELECT DISTINCT object, record_key, extract_id, ?, ?
                           FROM quarantine.extract_rejects WHERE object = ? AND record_key = ?""",
            [(extract_id, at, spec.name, k) for k in gone],
        )
        resolve_fixed(con, spec, at)


def load_psa(
    con: duckdb.DuckDBPyConnection, spec: SourceObject, psa: PsaDatabase, run_id: str | None = None
) -> LoadResult:
    """Incremental PSA load: rows updated since the watermark minus the lookback, new content only."""
    res = new_result(spec)
    ensure_raw_table(con, spec)
    res.watermark_before = get_watermark(con, spec)
    extracted_at = now_utc()
    with one_transaction(con):
        for batch in psa.read_batches(_psa_query(spec, res.watermark_before, psa.dialect)):
            frame = _psa_frame(spec, batch, first_row=res.rows_read + 1)
            insert_frame(
                con,
                spec,
                frame.with_columns(
                    _source_file=pl.lit(f"{psa.dialect}:{spec.pattern}"), _file_date=pl.lit(None, dtype=pl.Date)
                ),
                res,
                extracted_at,
            )
        _fix_vanished(con, spec, psa, res.extract_id, extracted_at)
        res.files_loaded = 1
        # a PSA table's source timestamp is its updated_at (specs), the column the watermark follows
        newest = res.latest_source_ts
        wm = res.watermark_before
        if newest is not None and (wm is None or newest.isoformat(sep=" ") > wm):
            wm = newest.isoformat(sep=" ")
        res.watermark_after = wm
        finish(con, spec, res, run_id)
    return res
