"""Events never hold the sync. Before the control: a webhook answering one byte every 5 s kept the nightly running
after 423 s holding the warehouse lock (its 10 s timeout never fired); a NATS stream name whose subjects another
stream covered failed the run after billing committed, with 811 deliveries stuck at 0 attempts."""

from __future__ import annotations

import asyncio
import fcntl
import time
import uuid
from datetime import datetime

import dagster as dg

from tests.helpers import QUIET, resources_for
from tests.security.conftest import Listener
from tests.test_events import NATS_URL, _nats_or_skip
from workbench.events import Event, Nats, Webhook, deliver, record
from workbench.store import open_store

T0 = datetime(2026, 11, 26, 9, 0)


class Drip(Listener):
    """A webhook that reads the request, then answers one byte every ``every`` seconds for ``for_s`` seconds."""

    def __init__(self, every: float = 1.0, for_s: float = 40.0):
        self.every, self.for_s = every, for_s
        super().__init__(self._drip)
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _drip(self, conn):
        answer = b"HTTP/1.1 204 No Content\r\nX-Slow: " + b"x" * 200
        try:
            conn.recv(65536)
            end = time.monotonic() + self.for_s
            for byte in answer:
                if time.monotonic() > end:
                    break
                conn.sendall(bytes([byte]))
                time.sleep(self.every)
        except OSError:
            pass
        finally:
            conn.close()


def test_a_drip_feeding_webhook_costs_the_run_nothing_and_holds_no_lock(published, monkeypatch):
    from assets.workbench.assets import business_events

    landing, wh, out, m = published
    drip = Drip()
    monkeypatch.setenv("PSSYNC_WEBHOOK_URLS", drip.url)
    try:
        started = time.monotonic()
        result = dg.materialize(
            [business_events],
            partition_key=m["as_of"],
            resources=resources_for(landing, wh, outputs=out),
            run_config=QUIET,
        )
        took = time.monotonic() - started
        assert result.success
        assert took < 10, f"the events step took {took:.1f} s beside a peer that needs 40 s per answer"
        deadline = time.monotonic() + 20
        while drip.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert drip.connections >= 1, "the delivery process reached the webhook"
        with open(wh.with_name(wh.name + ".lock"), "a+") as lock:  # the run's lock is free while events travel
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        drip.close()


def test_a_delivery_round_ends_by_its_deadline_whatever_the_peer_does(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'workflow.db'}")
    with engine.begin() as c:
        record(c, [Event("batch.emitted", f"BB-{n}", T0, {"n": n}) for n in range(3)])
    drip = Drip(every=0.5, for_s=60)
    try:
        started = time.monotonic()
        counts = deliver(engine, [Webhook(drip.url)], T0, deadline=3)
        assert time.monotonic() - started < 5
        assert counts == {"delivered": 0, "failed": 1, "dead": 0}, "one attempt, cut at the deadline, retried later"
    finally:
        drip.close()
        engine.dispose()


def test_a_nats_stream_that_conflicts_is_one_line_and_dead_letters_at_once(tmp_path):
    _nats_or_skip()
    tag = uuid.uuid4().hex[:8]
    prefix = f"pssync_sec_{tag}"

    async def squat(drop: bool = False):
        import nats

        nc = await nats.connect(NATS_URL)
        js = nc.jetstream()
        if drop:
            await js.delete_stream(f"SQUAT_{tag}")
        else:
            await js.add_stream(name=f"SQUAT_{tag}", subjects=[f"{prefix}.>"])
        await nc.close()

    asyncio.run(squat())
    engine = open_store(f"sqlite:///{tmp_path / 'workflow.db'}")
    try:
        with engine.begin() as c:
            record(c, [Event("batch.emitted", f"BB-{n}", T0, {"n": n}) for n in range(4)])
        sink = Nats(NATS_URL, stream=f"OURS_{tag}", prefix=prefix)
        assert deliver(engine, [sink], T0) == {"delivered": 0, "failed": 0, "dead": 4}
        with engine.connect() as c:
            errors = {r[0] for r in c.exec_driver_sql("SELECT last_error FROM event_deliveries")}
        assert len(errors) == 1 and next(iter(errors)).startswith("configuration: stream OURS_")
        assert "\n" not in next(iter(errors))
    finally:
        asyncio.run(squat(drop=True))
        engine.dispose()
