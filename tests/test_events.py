"""Business events: recorded with the change they tell of, delivered at least once to a loopback webhook (signed; a
failing one retried with backoff, then dead-lettered) and to the real NATS JetStream server, never lost, and
de-duplicated by event id."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import manifest
from tests.helpers import materialize_as_of
from tests.test_workbench import ASSETS
from workbench.events import Event, Nats, Webhook, deliver, record, retry_dead, sign
from workbench.store import event_deliveries, events, open_store

NATS_URL = os.environ.get("PSSYNC_TEST_NATS_URL", "nats://127.0.0.1:4222")
T0 = datetime(2026, 11, 26, 8, 0)
SECRET = "s3cret-for-tests"


class Receiver:
    """A loopback webhook: answers 500 to the first ``failures`` requests (or all, with -1), records the rest."""

    def __init__(self, failures: int = 0):
        self.failures, self.requests, self.received = failures, 0, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                if receiver.failures < 0 or receiver.requests <= receiver.failures:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def ids(self) -> list[str]:
        return [json.loads(b)["id"] for _, b in self.received]

    def close(self):
        self.server.shutdown()


def _outbox(tmp_path, n: int = 5):
    engine = open_store(f"sqlite:///{tmp_path / 'workflow.db'}")
    with engine.begin() as con:
        record(con, [Event("exception.opened", f"k{i}", T0, {"i": i}) for i in range(n)])
        assert record(con, [Event("exception.opened", "k0", T0, {"i": 0})]) == 0, "the same change: the same id"
    return engine


def _states(engine, sink: str) -> dict[str, tuple[str, int]]:
    d = event_deliveries.c
    with engine.connect() as con:
        rows = con.execute(sa.select(d.event_id, d.state, d.attempts).where(d.sink == sink)).all()
    return {r.event_id: (r.state, r.attempts) for r in rows}


def test_webhooks_get_every_event_once_signed_and_a_failing_one_is_retried_then_dead_lettered(tmp_path):
    engine = _outbox(tmp_path)
    healthy, flaky, broken = Receiver(), Receiver(failures=2), Receiver(failures=-1)
    sinks = [Webhook(healthy.url, SECRET), Webhook(flaky.url, SECRET), Webhook(broken.url, SECRET)]
    backoff = timedelta(seconds=30)
    try:
        first = deliver(engine, sinks, T0, max_attempts=3, backoff=backoff)
        # the healthy sink takes all five; a failing one is tried once per round, the rest wait
        assert first == {"delivered": 5, "failed": 2, "dead": 0}
        assert (flaky.requests, broken.requests) == (1, 1)
        # not due yet: the failed event waits its backoff, the untried ones go (and the flaky endpoint fails again)
        deliver(engine, sinks, T0 + timedelta(seconds=10), max_attempts=3, backoff=backoff)
        assert (flaky.requests, broken.requests) == (2, 2)
        for step in range(2, 400):  # rounds every 10 s until nothing is due: one request a round to a failing sink
            before = broken.requests
            deliver(engine, sinks, T0 + timedelta(seconds=10 * step), max_attempts=3, backoff=backoff)
            assert broken.requests - before <= 1
        ids = sorted(_states(engine, sinks[0].name))
        assert sorted(healthy.ids()) == ids, "every event, exactly once"
        assert sorted(flaky.ids()) == ids, "retried until delivered: none lost, none doubled"
        assert broken.ids() == [] and broken.requests == 15  # 5 events x 3 attempts
        assert set(_states(engine, sinks[2].name).values()) == {("dead", 3)}
        for headers, body in healthy.received:
            assert headers["X-Pssync-Signature"] == sign(SECRET, body)
            assert headers["X-Pssync-Event-Id"] == json.loads(body)["id"]

        # the endpoint is fixed; the dead letters go again and arrive once
        broken.failures = 0
        later = T0 + timedelta(hours=2)
        assert retry_dead(engine, later) == 5
        assert deliver(engine, sinks, later, max_attempts=3, backoff=backoff)["delivered"] == 5
        assert sorted(broken.ids()) == ids
        # a sink added later receives the backlog
        late = Receiver()
        deliver(engine, [*sinks, Webhook(late.url, SECRET)], later + timedelta(hours=1))
        assert sorted(late.ids()) == ids and sorted(healthy.ids()) == ids
        late.close()
    finally:
        for r in (healthy, flaky, broken):
            r.close()
        engine.dispose()


def test_a_nightly_run_tells_the_webhook_what_it_emitted_and_found(estate_copy, tmp_path, monkeypatch):
    from assets.billing.assets import billing_assets
    from assets.workbench.assets import business_events

    hook = Receiver()
    monkeypatch.setenv("PSSYNC_WEBHOOK_URLS", hook.url)
    monkeypatch.setenv("PSSYNC_WEBHOOK_SECRET", SECRET)
    as_of = manifest(estate_copy)["as_of"]
    wh = tmp_path / "wh.duckdb"
    try:
        assets = [*ASSETS, *[a for a in billing_assets if a not in ASSETS], business_events]
        assert materialize_as_of(estate_copy, wh, as_of, assets=assets).success
        wait_delivered(tmp_path / "workflow.db")
        kinds: dict[str, int] = {}
        for headers, body in hook.received:
            assert headers["X-Pssync-Signature"] == sign(SECRET, body)
            kinds[json.loads(body)["type"]] = kinds.get(json.loads(body)["type"], 0) + 1
        n_batches = len(list((tmp_path / "output" / "billing_batches").glob("*.json")))
        assert kinds["batch.emitted"] == n_batches > 0
        assert kinds["exception.opened"] > 10
        # the same date again: nothing new happened, nothing is sent again
        before = len(hook.received)
        assert materialize_as_of(estate_copy, wh, as_of, assets=assets).success
        wait_delivered(tmp_path / "workflow.db")
        assert len(hook.received) == before
    finally:
        hook.close()


def wait_delivered(store: Path, timeout: float = 90) -> None:
    """Wait for the run's own delivery process (workbench/deliver.py) to send every event of the outbox."""
    engine = open_store(f"sqlite:///{store}")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as c:
                n_events = c.execute(sa.select(sa.func.count()).select_from(events)).scalar()
                done = c.execute(sa.select(sa.func.count()).where(event_deliveries.c.state == "delivered")).scalar()
            if n_events and done == n_events:
                return
            time.sleep(0.2)
        raise AssertionError(f"{done} of {n_events} events delivered after {timeout} s")
    finally:
        engine.dispose()


def _nats_or_skip():
    async def ping():
        import nats

        nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
        await nc.close()

    try:
        asyncio.run(ping())
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but NATS at {NATS_URL} is unreachable: {exc!r}")
        pytest.skip(f"NATS at {NATS_URL} is unreachable ({exc!r}); set PSSYNC_TEST_NATS_URL")


def test_events_reach_nats_jetstream_once_even_when_published_twice(tmp_path):
    _nats_or_skip()
    engine = _outbox(tmp_path)
    tag = uuid.uuid4().hex[:8]
    sink = Nats(NATS_URL, stream=f"PSSYNC_TEST_{tag}", prefix=f"pssync_test_{tag}")

    async def stream_messages() -> list[dict]:
        import nats

        nc = await nats.connect(NATS_URL)
        js = nc.jetstream()
        info = await js.stream_info(sink.stream)
        sub = await js.pull_subscribe(f"{sink.prefix}.>", durable=f"check_{tag}", stream=sink.stream)
        msgs = await sub.fetch(info.state.messages, timeout=5) if info.state.messages else []
        out = [{"id": m.headers["Nats-Msg-Id"], "subject": m.subject, "body": json.loads(m.data)} for m in msgs]
        await nc.close()
        return out

    async def drop_stream():
        import nats

        nc = await nats.connect(NATS_URL)
        await nc.jetstream().delete_stream(sink.stream)
        await nc.close()

    try:
        assert deliver(engine, [sink], T0)["delivered"] == 5
        # a delivery whose acknowledgement was lost is published again: JetStream keeps one copy
        with engine.begin() as con:
            con.execute(event_deliveries.update().values(state="pending", next_attempt_at=T0))
        assert deliver(engine, [sink], T0)["delivered"] == 5
        got = asyncio.run(stream_messages())
        assert sorted(m["id"] for m in got) == sorted(_states(engine, sink.name))
        assert all(m["subject"] == f"{sink.prefix}.exception.opened" and m["body"]["id"] == m["id"] for m in got)
    finally:
        asyncio.run(drop_stream())
        engine.dispose()


def test_an_unreachable_nats_server_is_retried_not_lost(tmp_path):
    engine = _outbox(tmp_path, n=2)
    sink = Nats("nats://127.0.0.1:1", timeout=1)  # nothing listens on port 1
    assert deliver(engine, [sink], T0, max_attempts=2) == {"delivered": 0, "failed": 2, "dead": 0}
    assert all(state == ("pending", 1) for state in _states(engine, sink.name).values())
    # a webhook that never answers costs one timeout a round, not one per event
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(50)  # accepts connections, never answers
    hook = Webhook(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=1)
    started = time.perf_counter()
    assert deliver(engine, [hook], T0) == {"delivered": 0, "failed": 1, "dead": 0}
    assert time.perf_counter() - started < 5
    silent.close()
    engine.dispose()
