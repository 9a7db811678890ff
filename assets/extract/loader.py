"""Loading source objects into the append-only raw layer, one transaction per load.

Files are skipped by content hash; PSA rows and CRM record versions are appended only when
their content is new for their key. Rows that break a format rule go to
``quarantine.extract_rejects`` and ``ops.exceptions``; the rest flow on. Watermarks advance
in the same transaction that loads the rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import polars as pl

from assets.common import now_utc, one_transaction
from assets.extract.fields import JSON, PERCENT, TEXT, YESNO, SourceObject
from assets.extract.parse import FileRejected, file_date, read_file
from assets.extract.raw_sql import hash_sql, key_sql, source_ts_sql, violation_sql
from assets.ops.exceptions import record_exceptions
from resources.landing import LandingFolder, file_sha256, file_stat

LINEAGE = (
    "_source VARCHAR, _extract_id VARCHAR, _extracted_at TIMESTAMP, _source_file VARCHAR, _row_number BIGINT, "
    "_record_key VARCHAR, _record_hash VARCHAR, _source_ts TIMESTAMP, _file_date DATE, _extra VARCHAR"
)


@dataclass
class LoadResult:
    """What one extraction did, as ``ops.sync_runs`` and the Dagster metadata report it."""

    source: str
    object: str
    extract_id: str
    started_at: datetime
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    files_loaded: int = 0
    files_skipped: int = 0
    watermark_before: str | None = None
    watermark_after: str | None = None
    latest_source_ts: datetime | None = None
    rejected_files: list[str] = field(default_factory=list)

    @property
    def lag(self) -> timedelta | None:
        return None if self.latest_source_ts is None else now_utc() - self.latest_source_ts


def raw_column_type(spec: SourceObject, f) -> str:
    """PSA rows arrive typed; file rows are kept as the source wrote them (text) after validation."""
    if spec.kind != "psa_table":
        return TEXT
    return {JSON: TEXT, YESNO: TEXT, PERCENT: TEXT}.get(f.type, f.type)


def ensure_raw_table(con: duckdb.DuckDBPyConnection, spec: SourceObject) -> None:
    cols = ", ".join(f'"{f.column}" {raw_column_type(spec, f)}' for f in spec.fields)
    con.execute(f"CREATE TABLE IF NOT EXISTS {spec.table} ({cols}, {LINEAGE})")


def _record_exceptions(con, spec: SourceObject, rows: list[tuple], seen: datetime) -> None:
    """Extract-layer exceptions: (record_key, rule, message, file, row_number)."""
    if rows:
        record_exceptions(
            con, "extract", spec.source, spec.object, [(k, r, m, spec.owner, f, n) for k, r, m, f, n in rows], seen
        )


def _stamped_since(con, spec: SourceObject) -> str:
    """A filter on the raw rows that can hold a batch's content: the hash covers the source timestamp, so a row
    with the same content has the same timestamp, never an earlier one than the batch's earliest. The raw table
    is in extraction order, so the filter skips all but its recent blocks. Empty when a timestamp is unreadable."""
    if not spec.source_ts:
        return ""
    earliest, unreadable = con.execute(
        f"SELECT min({source_ts_sql(spec)}), count(*) FILTER ({source_ts_sql(spec)} IS NULL) FROM _keyed"
    ).fetchall()[0]
    return f" AND _source_ts >= TIMESTAMP '{earliest.isoformat(sep=' ')}'" if earliest and not unreadable else ""


def insert_frame(con, spec: SourceObject, frame: pl.DataFrame, res: LoadResult, extracted_at: datetime) -> int:
    """Validate a batch of rows (columns ``_source_file`` and ``_file_date`` say where each came from),
    insert the good rows, quarantine the rest. Rows arrive as source text (files, and PSA columns read as
    text) so that a value the declared type cannot hold rejects its row, naming it, instead of the load."""
    con.register("_in", frame.to_arrow())
    cols = ", ".join(f'"{f.column}"' for f in spec.fields)
    cast_cols = ", ".join(f'TRY_CAST("{f.column}" AS {raw_column_type(spec, f)}) AS "{f.column}"' for f in spec.fields)
    # validated, keyed and hashed in one pass: the batch is copied once (a second copy cost about 1 s of the PSA
    # time entries at M)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _keyed AS
        SELECT *, {hash_sql(spec)} AS _record_hash FROM (
            SELECT {cast_cols}, _row_number, _extra, {violation_sql(spec)} AS _violation,
                   CAST(_file_date AS DATE) AS _file_date, _source_file, {key_sql(spec)} AS _record_key
            FROM _in)""")
    con.unregister("_in")
    novelty = ""
    if spec.dedupe == "record":  # new content for its key, among the deliveries still in force
        # the raw rows of the batch's keys first: the batch is small, the table holds every version ever read
        novelty = (
            f"AND NOT EXISTS (SELECT 1 FROM (SELECT * FROM {spec.table} WHERE _record_key IN "
            f"(SELECT _record_key FROM _keyed){_stamped_since(con, spec)}) r WHERE r._record_key = c._record_key "
            "AND r._record_hash = c._record_hash AND delivered(r._extract_id, r._source_file))"
        )
    # file objects keep every row of every file (snapshots); record objects keep each content once (a PSA
    # query returns each primary key once, so only CRM pages need de-duplicating within a batch)
    distinct = "DISTINCT ON (_record_key, _record_hash)" if spec.dedupe == "record" and spec.kind != "psa_table" else ""
    order = "ORDER BY _record_key, _record_hash, _source_file, _row_number" if distinct else ""
    loaded = con.execute(
        f"""
        INSERT INTO {spec.table}
        SELECT {cols}, ?, ?, ?, _source_file, _row_number, _record_key, _record_hash,
               {source_ts_sql(spec)}, _file_date, _extra
        FROM (SELECT {distinct} * FROM _keyed c WHERE _violation IS NULL {novelty} {order})""",
        [spec.source, res.extract_id, extracted_at],
    ).fetchall()[0][0]
    if spec.dedupe == "record":
        _record_fixes(con, spec, res.extract_id, extracted_at)
    con.execute(
        """
        INSERT INTO quarantine.extract_rejects BY NAME
        SELECT ? AS object, _source_file AS file, _row_number AS row_number, _record_key AS record_key,
               split_part(_violation, '|', 1) AS rule, split_part(_violation, '|', 2) AS message,
               to_json(k)::VARCHAR AS record, ? AS extract_id, ? AS quarantined_at, _file_date AS file_date
        FROM _keyed k WHERE _violation IS NOT NULL""",
        [spec.name, res.extract_id, extracted_at],
    )
    bad = con.execute("""
        SELECT _record_key, split_part(_violation, '|', 1), split_part(_violation, '|', 2), _row_number, _source_file
        FROM _keyed WHERE _violation IS NOT NULL ORDER BY _source_file, _row_number""").fetchall()
    if bad:
        _record_exceptions(
            con,
            spec,
            [(key or f"{f}#{rn}", rule, f"{f} row {rn}: {msg}", f, rn) for key, rule, msg, rn, f in bad],
            extracted_at,
        )
    ts = con.execute(f"SELECT max({source_ts_sql(spec)}) FROM _keyed WHERE _violation IS NULL").fetchall()[0][0]
    if ts is not None and (res.latest_source_ts is None or ts > res.latest_source_ts):
        res.latest_source_ts = ts
    con.execute("DROP TABLE _keyed")
    res.rows_read += frame.height
    res.rows_loaded += loaded
    res.rows_quarantined += len(bad)
    return loaded


def _record_fixes(con, spec: SourceObject, extract_id: str, at: datetime) -> None:
    """A record rejected by an earlier extraction that now arrives valid is fixed: its reject no longer
    holds billing and its exception is resolved."""
    con.execute(
        """
        INSERT INTO quarantine.extract_fixes
        SELECT DISTINCT r.object, r.record_key, r.extract_id, ?, ? FROM quarantine.extract_rejects r
        WHERE r.object = ? AND r.extract_id <> ? AND r.record_key <> ''
          AND r.record_key IN (SELECT _record_key FROM _keyed WHERE _violation IS NULL)
          AND NOT EXISTS (SELECT 1 FROM quarantine.extract_fixes x
                          WHERE x.reject_extract_id = r.extract_id AND x.record_key = r.record_key)""",
        [extract_id, at, spec.name, extract_id],
    )
    resolve_fixed(con, spec, at)


def resolve_fixed(con, spec: SourceObject, at: datetime) -> None:
    """Resolve the exception of a record once none of its rejected versions is left unfixed (a record fixed,
    then broken again, stays open)."""
    con.execute(
        """
        UPDATE ops.exceptions e SET resolved_at = ?
        WHERE e.layer = 'extract' AND e.source = ? AND e.object = ? AND e.resolved_at IS NULL
          AND e.record_key IN (SELECT record_key FROM quarantine.extract_fixes WHERE object = ?)
          AND NOT EXISTS (SELECT 1 FROM quarantine.extract_rejects r
                          WHERE r.object = ? AND r.record_key = e.record_key AND delivered(r.extract_id, r.file)
                            AND NOT EXISTS (SELECT 1 FROM quarantine.extract_fixes x
                                            WHERE x.reject_extract_id = r.extract_id
                                              AND x.record_key = r.record_key))""",
        [at, spec.source, spec.object, spec.name, spec.name],
    )


def get_watermark(con, spec: SourceObject) -> str | None:
    rows = con.execute("SELECT watermark FROM ops.watermarks WHERE object = ?", [spec.name]).fetchall()
    return rows[0][0] if rows else None


def finish(con, spec: SourceObject, res: LoadResult, run_id: str | None) -> None:
    """Advance the watermark and record the run."""
    if res.watermark_after is not None and res.watermark_after != res.watermark_before:
        con.execute(
            """MERGE INTO ops.watermarks AS t USING (SELECT ? AS object, ? AS watermark, ? AS updated_at) AS s
                       ON t.object = s.object
                       WHEN MATCHED THEN UPDATE SET watermark = s.watermark, updated_at = s.updated_at
                       WHEN NOT MATCHED THEN INSERT BY NAME""",
            [spec.name, res.watermark_after, now_utc()],
        )
    con.execute(
        "INSERT INTO ops.sync_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            spec.source,
            spec.object,
            run_id,
            res.extract_id,
            res.started_at,
            now_utc(),
            res.rows_read,
            res.rows_loaded,
            res.rows_quarantined,
            res.files_loaded,
            res.files_skipped,
            res.watermark_before,
            res.watermark_after,
            res.latest_source_ts,
            res.lag,
        ],
    )


def new_result(spec: SourceObject) -> LoadResult:
    started = now_utc()
    return LoadResult(spec.source, spec.object, f"{spec.name}-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", started)


def _current_deliveries(con, spec: SourceObject) -> dict[str, tuple[str, str, str | None]]:
    """File name -> (content hash, status, file stat) of its delivery in force (the latest one seen)."""
    rows = con.execute(
        """SELECT file, arg_max(content_hash, loaded_at), arg_max(status, loaded_at), arg_max(file_stat, loaded_at)
                          FROM ops.loaded_files WHERE object = ? GROUP BY file""",
        [spec.name],
    ).fetchall()
    return {f: (h, st, stat) for f, h, st, stat in rows}


def _supersede(con, spec: SourceObject, rel: str, by_extract: str, at: datetime) -> None:
    """A changed file under a name already loaded is a correction: every earlier delivery of that name stops
    counting (its raw rows stay for audit), and the exceptions it raised are resolved (the new content raises
    its own)."""
    con.execute(
        """
        INSERT INTO ops.superseded_deliveries
        SELECT DISTINCT object, file, extract_id, ?, ? FROM ops.loaded_files
        WHERE object = ? AND file = ? AND extract_id <> ?
          AND extract_id NOT IN (SELECT extract_id FROM ops.superseded_deliveries WHERE object = ? AND file = ?)""",
        [by_extract, at, spec.name, rel, by_extract, spec.name, rel],
    )
    con.execute(
        """UPDATE ops.exceptions SET resolved_at = ? WHERE layer = 'extract' AND source = ? AND object = ?
                   AND file = ? AND resolved_at IS NULL""",
        [at, spec.source, spec.object, rel],
    )


def load_files(
    con: duckdb.DuckDBPyConnection, spec: SourceObject, landing: LandingFolder, run_id: str | None = None
) -> LoadResult:
    """Load every landed file of ``spec`` whose content is new under its name, in one transaction.

    Re-delivery is by name and content together: the same bytes under the same name change nothing; new
    bytes under a loaded name supersede the earlier delivery; the same bytes under a new name are a duplicate
    only for change feeds (CRM pages, ERP deltas), where they would change nothing. A snapshot under a new
    name is always loaded: its date says it is the state from then on (A, B, A ends in A)."""
    res = new_result(spec)
    ensure_raw_table(con, spec)
    res.watermark_before = get_watermark(con, spec)
    current = _current_deliveries(con, spec)
    hashes = {h for h, st, _ in current.values() if st != "rejected"}
    extracted_at = now_utc()
    with one_transaction(con):
        watermark = res.watermark_before
        frames, files, restat = [], [], []
        for path in landing.files(spec.pattern):
            rel = landing.relative(path)
            stat = file_stat(path)
            known = current.get(rel, (None, None, None))
            digest = known[0] if known[2] == stat else file_sha256(path)
            if known[0] == digest:
                res.files_skipped += 1
                if known[2] != stat:
                    restat.append((rel, digest, stat))
                continue
            if rel in current:
                _supersede(con, spec, rel, res.extract_id, extracted_at)
            status = "loaded"
            if digest in hashes and not spec.snapshot and rel not in current:
                status = "duplicate"
                res.files_skipped += 1
            else:
                try:
                    frames.append(
                        read_file(spec, path).with_columns(
                            _source_file=pl.lit(rel), _file_date=pl.lit(file_date(spec, rel), dtype=pl.Date)
                        )
                    )
                    res.files_loaded += 1
                except FileRejected as exc:
                    status = "rejected"
                    res.rejected_files.append(rel)
                    _record_exceptions(con, spec, [(rel, exc.rule, f"{rel}: {exc.message}", rel, None)], extracted_at)
            hashes.add(digest)
            files.append((rel, digest, status, frames[-1].height if status == "loaded" else 0, stat))
            marker = rel.split("/")[1] if spec.kind == "crm_pages" else rel
            if watermark is None or marker > watermark:
                watermark = marker
        if frames:
            insert_frame(con, spec, pl.concat(frames, how="vertical"), res, extracted_at)
        if files:
            # a name delivered again with bytes it had before (A, B, A) updates that row: the newest delivery wins
            # one statement for all files: DuckDB runs an upsert row by row when it is given rows one by one
            seen = pl.DataFrame(
                [(rel, digest, rows, status, file_date(spec, rel), stat) for rel, digest, status, rows, stat in files],
                schema={
                    "file": pl.Utf8,
                    "content_hash": pl.Utf8,
                    "rows_loaded": pl.Int64,
                    "status": pl.Utf8,
                    "file_date": pl.Date,
                    "file_stat": pl.Utf8,
                },
                orient="row",
            )
            con.register("_files", seen.to_arrow())
            con.execute(
                """MERGE INTO ops.loaded_files AS t
                           USING (SELECT ? AS object, file, content_hash, ? AS extract_id, ? AS loaded_at, rows_loaded,
                                         status, file_date, file_stat FROM _files) AS s
                           ON t.object = s.object AND t.file = s.file AND t.content_hash = s.content_hash
                           WHEN MATCHED THEN UPDATE SET extract_id = s.extract_id, loaded_at = s.loaded_at,
                               rows_loaded = s.rows_loaded, status = s.status, file_stat = s.file_stat
                           WHEN NOT MATCHED THEN INSERT BY NAME""",
                [spec.name, res.extract_id, extracted_at],
            )
            con.unregister("_files")
        if restat:  # the same bytes as delivered, read through a new stat (a copy, a touch): remember it
            stats = pl.DataFrame(
                restat, schema={"file": pl.Utf8, "content_hash": pl.Utf8, "file_stat": pl.Utf8}, orient="row"
            )
            con.register("_stats", stats.to_arrow())
            con.execute(
                """UPDATE ops.loaded_files AS f SET file_stat = s.file_stat FROM _stats AS s
                   WHERE f.object = ? AND f.file = s.file AND f.content_hash = s.content_hash""",
                [spec.name],
            )
            con.unregister("_stats")
        res.watermark_after = watermark
        finish(con, spec, res, run_id)
    return res
