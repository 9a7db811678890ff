"""The billing ledger guards itself: a run refuses to bill when ``billing.ledger`` lost keys that emitted batches
still carry.

The ledger is what keeps a key from being billed twice: a key missing from it is billed again by the next run. So
before a run bills, every batch that was emitted and not rejected must still hold all its keys in the ledger, as
counted by two records the ledger's own table cannot vouch for: the workflow store's register of emitted batches
(their line counts, outside the warehouse) and the warehouse's ``billing.batch_lines``. A batch with fewer keys in
the ledger than either record stops billing, named in one line, until the ledger is restored from a backup (or the
batch is rejected in the workbench, which gives its keys back on purpose).
"""

from __future__ import annotations

from datetime import date

import duckdb

from resources.warehouse import table_exists


class LedgerTampered(RuntimeError):
    """The billing ledger lost keys that emitted batches still carry: billing again would bill them twice."""


def ledger_problems(
    con: duckdb.DuckDBPyConnection, emitted: dict[str, tuple[date, int]] | None, before: date
) -> list[str]:
    """Batches of dates before ``before`` (the first date this run bills) whose keys are missing from the ledger.
    ``emitted``: (as-of date, line count) by batch id of the batches the workflow store registered and not rejected
    (None: the store could not be read; the warehouse's lines alone are compared). A batch of the date being billed,
    or a later one, is not counted: billing that date replays it (the same batch ids and keys, as a rebuild of the
    warehouse from its sources does), while an earlier date's lost keys would be billed again under a new batch."""
    lines = "billing.batch_lines"
    if not table_exists(con, lines):  # nothing emitted into this warehouse yet
        lines = "_no_lines"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {lines} (batch_id VARCHAR, as_of_date DATE)")
    con.execute("CREATE OR REPLACE TEMP TABLE _emitted (batch_id VARCHAR, line_count BIGINT)")
    earlier = [(b, n) for b, (d, n) in (emitted or {}).items() if d < before]
    if earlier:
        con.execute(
            "INSERT INTO _emitted SELECT unnest($ids::VARCHAR[]), unnest($counts::BIGINT[])",
            {"ids": [b for b, _ in earlier], "counts": [n for _, n in earlier]},
        )
    rows = con.execute(
        f"""
        WITH kept AS (SELECT batch_id, count(*) AS n FROM billing.ledger GROUP BY batch_id),
             rejected AS (SELECT DISTINCT batch_id FROM billing.rejected_ledger),
             lines AS (SELECT batch_id, count(*) AS n FROM {lines}
                       WHERE as_of_date < $before AND batch_id NOT IN (SELECT batch_id FROM rejected)
                       GROUP BY batch_id),
             expected AS (
                 SELECT batch_id, max(n) AS n FROM (
                     SELECT batch_id, n FROM lines
                     UNION ALL SELECT batch_id, line_count FROM _emitted
                     WHERE batch_id NOT IN (SELECT batch_id FROM rejected))
                 GROUP BY batch_id)
        SELECT e.batch_id, e.n, coalesce(k.n, 0) FROM expected e LEFT JOIN kept k USING (batch_id)
        WHERE coalesce(k.n, 0) < e.n ORDER BY e.batch_id""",
        {"before": before},
    ).fetchall()
    con.execute("DROP TABLE _emitted")
    if not rows:
        return []
    missing = sum(n - have for _, n, have in rows)
    shown = ", ".join(f"{b} ({have} of {n})" for b, n, have in rows[:3])
    return [
        f"billing.ledger lost {missing:,} key(s) of {len(rows):,} emitted batch(es) ({shown}"
        f"{', ...' if len(rows) > 3 else ''}): restore the ledger from a backup before billing again"
    ]
