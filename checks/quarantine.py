"""Running a pandera contract over a canonical table: bad rows to quarantine, the rest flow on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from resources.warehouse import read_frame


@dataclass
class ContractOutcome:
    rows: int
    quarantined: int
    by_rule: dict[str, int]

    @property
    def share(self) -> float:
        return self.quarantined / self.rows if self.rows else 0.0


def _message(rule: str, column: str | None, case: str | None) -> str:
    where = f"{column} = {case!r}" if column else "the row"
    return f"{where} breaks {rule}"


def enforce(
    con: duckdb.DuckDBPyConnection,
    table: str,
    contract: type[pa.DataFrameModel],
    now: datetime,
    rows: str | None = None,
) -> None:
    """Validate the rows of ``rows`` (by default the whole of ``table``, whose earlier rejects are then
    replaced) against the contract (collected: on a LazyFrame pandera checks only names and types); delete
    the rows that break it from ``rows`` and keep them whole in ``quarantine.canonical_rejects`` under
    ``table``. The exceptions to act on are those of ``still_broken``; the totals, ``outcome``."""
    source = rows or table
    frame = read_frame(con, f"SELECT * FROM {source}").with_row_index("_row")
    if rows is None:
        con.execute("DELETE FROM quarantine.canonical_rejects WHERE table_name = ?", [table])
    try:
        contract.validate(frame.drop("_row"), lazy=True)
        return
    except SchemaErrors as err:
        cases = err.failure_cases
    row_cases = cases.filter(pl.col("index").is_not_null())
    if row_cases.height < cases.height:
        problems = cases.filter(pl.col("index").is_null()).select("column", "check").rows()
        raise ValueError(f"{table} does not have the shape its contract {contract.__name__} requires: {problems}")
    first = row_cases.sort("index").group_by("index", maintain_order=True).first()
    bad = first.join(frame, left_on=pl.col("index").cast(pl.UInt32), right_on="_row")
    rejects = []
    for r in bad.iter_rows(named=True):
        rule = r["check"].split("(")[0] if r["schema_context"] == "Column" else r["check"]
        rule = f"{r['column']}:{rule}" if r["schema_context"] == "Column" else rule
        msg = _message(r["check"], r["column"] if r["schema_context"] == "Column" else None, r["failure_case"])
        record = {
            k: (str(v) if v is not None else None)
            for k, v in r.items()
            if k not in ("index", "failure_case", "schema_context", "column", "check", "check_number", "_row")
        }
        rejects.append(
            (
                table,
                r["_record_key"],
                r["_record_hash"],
                rule,
                r["column"],
                r["failure_case"],
                msg,
                json.dumps(record, sort_keys=True),
                now,
            )
        )
    con.executemany("INSERT INTO quarantine.canonical_rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rejects)
    hashes = pl.DataFrame({"h": [x[2] for x in rejects]})
    con.register("_bad", hashes.to_arrow())
    con.execute(f"DELETE FROM {source} WHERE _record_hash IN (SELECT h FROM _bad)")
    con.unregister("_bad")


def outcome(con: duckdb.DuckDBPyConnection, table: str) -> ContractOutcome:
    """Rows validated into ``table`` over its life and how many of them are in quarantine, by rule."""
    kept = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    by_rule = dict(
        con.execute(
            "SELECT rule, count(*) FROM quarantine.canonical_rejects WHERE table_name = ? GROUP BY 1 ORDER BY 1",
            [table],
        ).fetchall()
    )
    quarantined = sum(by_rule.values())
    return ContractOutcome(kept + quarantined, quarantined, by_rule)


def still_broken(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """(record_key, rule, message) of the quarantined rows of ``table`` that no later extraction has corrected.
    A rejected version stays in quarantine for good; the problem it names is over once the same record arrived
    valid in a later extraction (a corrected revision, a fixed snapshot)."""
    return con.execute(
        f"""
        SELECT q.record_key, q.rule, q.message
        FROM quarantine.canonical_rejects q
        LEFT JOIN ops.sync_runs s ON s.extract_id = json_extract_string(q.record, '$._extract_id')
        WHERE q.table_name = ?
          AND NOT EXISTS (SELECT 1 FROM {table} h JOIN ops.sync_runs later ON later.extract_id = h._extract_id
                          WHERE h._record_key = q.record_key AND later.started_at > s.started_at)
        ORDER BY 1, 2, 3""",
        [table],
    ).fetchall()
