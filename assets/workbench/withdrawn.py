"""Work withdrawn from under a pending batch: a time entry a batch awaiting release carries that the PSA has since
deleted or sent back. Each is an exception for finance (rule ``WITHDRAWN_WORK``), and the batch is held: it cannot
be released while one is open (workbench/batches.py). Finance waives it (the work is billed as it stands) or
rejects the batch (its keys return to the ledger, and the next date bills what is still approved)."""

from __future__ import annotations

from datetime import date

import duckdb
import sqlalchemy as sa

from resources.warehouse import bound_params, sql_text, table_exists
from workbench.batches import WITHDRAWN_RULE, batches
from workbench.lifecycle import Finding
from workbench.store import exception_states

LAYER, SOURCE, OBJECT = "billing", "psa", "batch_lines"


def withdrawn_findings(con: duckdb.DuckDBPyConnection, engine: sa.Engine, as_of: date) -> list[Finding]:
    """The withdrawn work of the pending batches on ``as_of``, and as resolved the findings of earlier runs that no
    longer hold (the entry is approved again, or the batch was decided)."""
    pending = [b["batch_id"] for b in batches(engine, "pending")]
    found = []
    if pending and table_exists(con, "billing.batch_lines") and table_exists(con, "canonical.time_entry_history"):
        query = sql_text("workbench/withdrawn_work")
        rows = con.execute(query, bound_params(query, {"as_of": as_of, "pending": pending})).fetchall()
        for batch_id, entry, currency, amount, what in rows:
            message = (
                f"time entry {entry} in pending batch {batch_id} is {what} in the PSA since the batch was emitted: "
                f"release it only if the work stands; {amount:,.2f} {currency} at risk"
            )
            found.append(
                Finding(LAYER, SOURCE, OBJECT, f"{batch_id}|{entry}", WITHDRAWN_RULE, message, "finance", False)
            )
    keys = {f.key for f in found}
    t = exception_states.c
    with engine.connect() as c:
        earlier = c.execute(
            sa.select(t.record_key, t.message).where((t.rule == WITHDRAWN_RULE) & (t.state != "resolved"))
        ).all()
    gone = [
        Finding(LAYER, SOURCE, OBJECT, key, WITHDRAWN_RULE, message, "finance", True)
        for key, message in earlier
        if "|".join((LAYER, SOURCE, OBJECT, key, WITHDRAWN_RULE)) not in keys
    ]
    return found + gone
