"""Where finance's decisions in the workbench meet the warehouse: rejected batches give their keys back, released
ones are published to the ERP staging table (workbench/batches.py has the rule)."""

from __future__ import annotations

import duckdb
from sqlalchemy.exc import SQLAlchemyError

from assets.billing.emit import LINE_COLUMNS
from assets.billing.ledger_guard import LedgerTampered, ledger_problems
from assets.common import now_utc, rollback
from workbench.batches import emitted_line_counts, rejected
from workbench.store import open_store


def apply_rejections(con: duckdb.DuckDBPyConnection, rejected: list[str]) -> int:
    """Move the ledger keys of rejected batches to ``billing.rejected_ledger``: a later date may carry them. The
    batches' own lines and headers stay, so a replay of their date writes the same files. Returns keys freed."""
    if not rejected:
        return 0
    con.execute("CREATE OR REPLACE TEMP TABLE _rejected AS SELECT unnest(?::VARCHAR[]) AS batch_id", [rejected])
    n = con.execute(
        "SELECT count(*) FROM billing.ledger WHERE batch_id IN (SELECT batch_id FROM _rejected)"
    ).fetchone()[0]
    if n:
        con.begin()
        try:
            con.execute(
                "INSERT INTO billing.rejected_ledger SELECT *, ? FROM billing.ledger "
                "WHERE batch_id IN (SELECT batch_id FROM _rejected)",
                [now_utc()],
            )
            con.execute("DELETE FROM billing.ledger WHERE batch_id IN (SELECT batch_id FROM _rejected)")
            con.commit()
        except BaseException:
            rollback(con)
            raise
    return n


def _read_store(workflow_url: str, read, log, otherwise: str):
    """``read(engine)`` on the workflow store; None when the store cannot be read, said in the run's log with what
    the run does ``otherwise``."""
    try:
        engine = open_store(workflow_url)
        try:
            return read(engine)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        log.warning(f"the workflow store could not be read ({str(exc).splitlines()[0]}): {otherwise}")
        return None


def free_rejected_keys(con: duckdb.DuckDBPyConnection, workflow_url: str, log) -> int:
    """Apply the rejections recorded in the workflow store. A store that cannot be read frees nothing (the keys stay
    taken: nothing can be billed twice) and says so in the run's log."""
    ids = _read_store(workflow_url, rejected, log, "rejected batches keep their keys")
    return apply_rejections(con, ids) if ids is not None else 0


def released_lines(con: duckdb.DuckDBPyConnection, batch_id: str) -> list[dict]:
    """The stored lines of one batch, as emitted."""
    rows = con.execute(
        f"SELECT {', '.join(LINE_COLUMNS)} FROM billing.batch_lines WHERE batch_id = ? ORDER BY line_no", [batch_id]
    ).fetchall()
    return [dict(zip(LINE_COLUMNS, r)) for r in rows]


def check_ledger(con: duckdb.DuckDBPyConnection, workflow_url: str, log, first_date) -> None:
    """Refuse to bill (``LedgerTampered``, one line) when the ledger lost keys of batches emitted for dates before
    ``first_date``. A store that cannot be read leaves the warehouse's own batch lines as the record, and the log
    says so."""
    otherwise = "the ledger is checked against the warehouse's batch lines only"
    problems = ledger_problems(con, _read_store(workflow_url, emitted_line_counts, log, otherwise), first_date)
    if problems:
        raise LedgerTampered(problems[0])
