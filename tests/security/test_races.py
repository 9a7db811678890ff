"""Transitions are compare-and-set. Before the control, release and reject of one batch at once (60 batches) answered
200 to both six times, and four batches ended released after rejected with both events sent; two `pssync events
deliver` at once sent 1,622 POSTs for 811 events."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import sqlalchemy as sa

from tests.test_events import Receiver
from tests.test_web import _header as web_header
from workbench.batches import batches, decide, register
from workbench.events import Event, Webhook, deliver, record
from workbench.lifecycle import ActionRefused
from workbench.policy import set_policy
from workbench.store import audit_trail, events, open_store
from workbench.users import add_user

T0 = datetime(2026, 11, 26, 9, 0)
PAIRS = 100


def _header(n: int, gross: str) -> dict:
    """Batch n of a date, in the reporting currency (tests/test_web.py's header, numbered)."""
    return web_header(f"BB-US01-{1000 + n}-USD-20261120", 1000 + n, gross)


def _store(url: str):
    engine = open_store(url)
    for name, role in (("fiona", "finance"), ("fred", "finance"), ("adam", "admin")):
        add_user(engine, name, role, "correct horse battery", T0)
    set_policy(engine, "dual_approval_above", "1000.00", "adam", T0)
    return engine


def _race(calls: list) -> list:
    """Run every call at once (a barrier lets them go together); returns each one's outcome."""
    gate = threading.Barrier(len(calls))

    def go(call):
        gate.wait()
        try:
            return call()
        except ActionRefused as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(go, calls))


def _release_reject_pairs(engine) -> None:
    register(engine, [_header(n, "500.00") for n in range(PAIRS)], T0)
    ids = [b["batch_id"] for b in batches(engine)]
    calls = []
    for b in ids:
        calls.append(lambda b=b: decide(engine, b, "release", "fiona", T0))
        calls.append(lambda b=b: decide(engine, b, "reject", "fred", T0, reason="wrong PO"))
    for i in range(0, len(calls), 40):  # 20 pairs at a time: every pair races, the pool stays small
        _race(calls[i : i + 40])
    states = Counter(b["state"] for b in batches(engine))
    assert sum(states.values()) == PAIRS and states["pending"] == 0, states
    with engine.connect() as c:
        told = Counter(
            c.execute(sa.select(events.c.subject).where(events.c.type.in_(("batch.released", "batch.rejected"))))
            .scalars()
            .all()
        )
        decided = Counter(
            c.execute(
                sa.select(audit_trail.c.exception_key).where(audit_trail.c.action.in_(("release", "reject")))
            ).scalars()
        )
    assert set(told.values()) == {1} and len(told) == PAIRS, "one final event per batch"
    assert set(decided.values()) == {1} and len(decided) == PAIRS, "one decision in the audit trail per batch"


def test_release_and_reject_at_once_leave_one_final_state_and_one_event_on_sqlite(tmp_path):
    engine = _store(f"sqlite:///{tmp_path / 'workflow.db'}")
    _release_reject_pairs(engine)
    engine.dispose()


def test_release_and_reject_at_once_leave_one_final_state_and_one_event_on_postgresql(pg_database):
    engine = _store(pg_database)
    _release_reject_pairs(engine)
    engine.dispose()


@pytest.mark.parametrize("second", ["fiona", "fred"])
def test_two_first_approvals_at_once_never_release_a_large_batch(tmp_path, second):
    engine = _store(f"sqlite:///{tmp_path / 'workflow.db'}")
    register(engine, [_header(n, "5000.00") for n in range(20)], T0)
    for b in batches(engine):
        outcomes = _race(
            [
                lambda b=b: decide(engine, b["batch_id"], "release", "fiona", T0),
                lambda b=b: decide(engine, b["batch_id"], "release", second, T0),
            ]
        )
        assert sum(isinstance(o, dict) for o in outcomes) >= 1
    after = batches(engine)
    if second == "fiona":  # one person twice at once: one approval, never a release
        assert {(b["state"], b["first_approver"]) for b in after} == {("pending", "fiona")}
    else:  # two people at once: either the second approval released it, or one of them was told to retry
        assert all(b["state"] in ("pending", "released") and b["first_approver"] for b in after)
        assert all(b["decided_by"] != b["first_approver"] for b in after if b["state"] == "released")
    engine.dispose()


def test_two_delivery_rounds_at_once_send_each_event_once(tmp_path):
    """A slow webhook (each answer takes 20 ms): two rounds lease apart what each sends."""
    import time

    engine = open_store(f"sqlite:///{tmp_path / 'workflow.db'}")
    with engine.begin() as c:
        record(c, [Event("batch.emitted", f"BB-{n}", T0, {"n": n}) for n in range(60)])
    hook = Receiver()
    original = hook.server.RequestHandlerClass.do_POST

    def slow(handler):
        time.sleep(0.02)
        original(handler)

    hook.server.RequestHandlerClass.do_POST = slow
    try:
        sink = Webhook(hook.url)
        counts = _race([lambda: deliver(engine, [sink], T0), lambda: deliver(engine, [sink], T0)])
        assert sum(c["delivered"] for c in counts) == 60
        assert Counter(hook.ids()).most_common(1)[0][1] == 1 and len(hook.ids()) == 60, "each event once"
    finally:
        hook.close()
        engine.dispose()


def test_a_batch_whose_gross_has_no_rate_needs_two_people(tmp_path):
    engine = _store(f"sqlite:///{tmp_path / 'workflow.db'}")
    header = {**_header(1, "10.00"), "currency": "XAU", "gross_reporting": None}
    register(engine, [header], T0)
    assert decide(engine, header["batch_id"], "release", "fiona", T0)["state"] == "pending", "fail closed"
    assert decide(engine, header["batch_id"], "release", "fred", T0)["state"] == "released"
    engine.dispose()


def _acks_at_once(engine) -> None:
    from workbench.lifecycle import Finding, act, sync_findings

    findings = [
        Finding("recon", "recon", "time_to_bill", str(n), "OVER_CAP", f"entry {n}: 10.00 USD at risk", "finance", False)
        for n in range(40)
    ]
    sync_findings(engine, findings, T0)
    for f in findings:
        outcomes = _race(
            [
                lambda f=f: act(engine, f.key, "ack", "fiona", T0),
                lambda f=f: act(engine, f.key, "ack", "fred", T0),
            ]
        )
        assert sum(isinstance(o, dict) for o in outcomes) == 1, "one acknowledgement; the other is told it is taken"
    with engine.connect() as c:
        acks = Counter(c.execute(sa.select(audit_trail.c.exception_key).where(audit_trail.c.action == "ack")).scalars())
    assert len(acks) == 40 and set(acks.values()) == {1}


def test_two_acknowledgements_at_once_leave_one_owner_on_sqlite(tmp_path):
    engine = _store(f"sqlite:///{tmp_path / 'workflow.db'}")
    _acks_at_once(engine)
    engine.dispose()


def test_two_acknowledgements_at_once_leave_one_owner_on_postgresql(pg_database):
    engine = _store(pg_database)
    _acks_at_once(engine)
    engine.dispose()
