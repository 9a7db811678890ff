"""Deleted source work in a pending batch. Before the control, a PSA entry deleted after it was put in a pending batch
raised no exception, and the pending batch still carried the hours of the deleted work to its release."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from assets.common import now_utc
from tests.helpers import all_assets, materialize_as_of, query
from tests.security.conftest import people, store_of
from workbench.batches import batch, decide
from workbench.lifecycle import ActionRefused, act
from workbench.store import exception_states


def test_work_deleted_after_emission_holds_its_pending_batch_until_finance_decides(own_copy):
    from assets.workbench.assets import exception_states as exception_step

    landing, wh, out, m = own_copy
    engine = store_of(wh)
    people(engine, threshold="999999999.99")
    (held, entry, amount), (other, other_entry, _) = query(
        wh,
        """SELECT batch_id, source_id, amount FROM billing.batch_lines WHERE item = 'PS-TM-HOURS'
           QUALIFY row_number() OVER (PARTITION BY batch_id ORDER BY source_id) = 1 ORDER BY batch_id LIMIT 2""",
    )
    d1 = (date.fromisoformat(m["as_of"]) + timedelta(days=1)).isoformat()
    psa = sqlite3.connect(landing / "psa" / "psa.db")
    with psa:  # deleted in the PSA the next morning; another entry sent back to draft
        psa.execute(
            "UPDATE time_entries SET deleted_at = ?, updated_at = ?, revision = revision + 1 WHERE time_entry_id = ?",
            (f"{d1} 09:00:00", f"{d1} 09:00:00", entry),
        )
        psa.execute(
            "UPDATE time_entries SET status = 'submitted', approved_at = NULL, updated_at = ?, revision = revision + 1 "
            "WHERE time_entry_id = ?",
            (f"{d1} 09:05:00", other_entry),
        )
    psa.close()
    assert materialize_as_of(landing, wh, d1, assets=[*all_assets(), exception_step], outputs=out).success

    with engine.connect() as c:
        found = c.execute(
            sa.select(exception_states.c.record_key, exception_states.c.owner, exception_states.c.amount_at_risk)
            .where(exception_states.c.rule == "WITHDRAWN_WORK")
            .order_by(exception_states.c.record_key)
        ).all()
    assert [(k, o) for k, o, _ in found] == [(f"{held}|{entry}", "finance"), (f"{other}|{other_entry}", "finance")]
    assert found[0][2] == amount
    for b in (held, other):
        with pytest.raises(ActionRefused, match="is held"):
            decide(engine, b, "release", "fiona", now_utc())
    # finance decides: the deleted work is accepted as billed (waived); the other batch is rejected
    act(
        engine,
        f"billing|psa|batch_lines|{held}|{entry}|WITHDRAWN_WORK",
        "waive",
        "fiona",
        now_utc(),
        reason="CUSTOMER_AGREED",
        comment="work done; the PSA record was deleted by mistake",
    )
    assert decide(engine, held, "release", "fiona", now_utc())["state"] == "released"
    assert decide(engine, other, "reject", "fred", now_utc(), reason="carries unapproved work")["state"] == "rejected"
    # the next run resolves what no longer holds a pending batch
    d2 = (date.fromisoformat(d1) + timedelta(days=1)).isoformat()
    assert materialize_as_of(landing, wh, d2, assets=[*all_assets(), exception_step], outputs=out).success
    with engine.connect() as c:
        states = dict(
            c.execute(
                sa.select(exception_states.c.record_key, exception_states.c.state).where(
                    exception_states.c.rule == "WITHDRAWN_WORK"
                )
            ).all()
        )
    assert states == {f"{held}|{entry}": "resolved", f"{other}|{other_entry}": "resolved"}
    assert batch(engine, held)["state"] == "released"
    engine.dispose()
