"""Business events: an outbox in the workflow store, delivered at least once to webhooks and NATS JetStream.

An event is recorded in the same transaction as the change it tells of (an exception opened, a batch released),
with a stable id: recording it again inserts nothing. Delivery is separate (``deliver``, run after each sync and by
``pssync events deliver``): every configured sink gets every event, oldest first; a failed attempt is retried with
exponential backoff and, after ``max_attempts``, the delivery is dead-lettered (state ``dead``, with its last
error) until someone retries it (``pssync events retry``). A consumer de-duplicates by the event id: webhooks carry
it in ``X-Pssync-Event-Id`` and in the body, NATS messages as ``Nats-Msg-Id``, which JetStream itself
de-duplicates within the stream's window.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import nats
import sqlalchemy as sa
from nats.js.errors import NotFoundError

from resources.settings import secret
from workbench.store import event_deliveries, events, writing

TYPES = (
    "exception.opened",
    "exception.escalated",
    "exception.resolved",
    "batch.emitted",
    "batch.released",
    "batch.rejected",
    "staffing.demand",
    "policy.changed",
)
SIGNATURE_HEADER = "X-Pssync-Signature"
# an error no retry mends (a sink configured against what it is): the delivery is dead-lettered at once
PERMANENT = "configuration: "
LEASE = timedelta(minutes=5)  # how long a sender holds the deliveries it took; a sender that died frees them then


def event_id(type_: str, subject: str, occurrence: str) -> str:
    """A stable id: the same change of the same subject always gets the same id."""
    return hashlib.sha256(f"{type_}\x1f{subject}\x1f{occurrence}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Event:
    type: str
    subject: str
    occurred_at: datetime
    payload: dict
    occurrence: str | None = None  # tells apart two changes of one kind to one subject (default: when it happened)

    @property
    def id(self) -> str:
        return event_id(self.type, self.subject, self.occurrence or self.occurred_at.isoformat())


def record(con, batch: list[Event]) -> int:
    """Add events to the outbox inside the caller's transaction; an id already there is not added again. Returns
    how many were new."""
    fresh: dict[str, Event] = {}
    for e in batch:
        assert e.type in TYPES, e.type
        fresh.setdefault(e.id, e)
    ids = list(fresh)
    for i in range(0, len(ids), 500):
        for (known,) in con.execute(sa.select(events.c.event_id).where(events.c.event_id.in_(ids[i : i + 500]))):
            fresh.pop(known, None)
    if fresh:
        con.execute(
            events.insert(),
            [
                dict(
                    event_id=eid,
                    type=e.type,
                    subject=e.subject,
                    occurred_at=e.occurred_at,
                    payload=json.dumps(e.payload, sort_keys=True, default=str),
                )
                for eid, e in fresh.items()
            ],
        )
    return len(fresh)


def body(row) -> bytes:
    """What a sink receives: the event as compact JSON, keys sorted."""
    doc = {
        "id": row["event_id"],
        "type": row["type"],
        "subject": row["subject"],
        "occurred_at": row["occurred_at"].isoformat(),
        "payload": json.loads(row["payload"]),
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, data: bytes) -> str:
    """The webhook signature: ``sha256=`` and the hex HMAC-SHA256 of the body under the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


@dataclass
class Webhook:
    """An HTTP endpoint: each event POSTed as JSON, signed; any 2xx answer is a delivery. Each request has a
    whole-request deadline (``timeout``, and never past the round's): a peer that answers a byte at a time is cut
    off, not waited on."""

    url: str
    secret: str = ""
    timeout: float = 10

    @property
    def name(self) -> str:
        return f"webhook:{self.url}"

    def send(self, rows: list, until: float | None = None) -> dict[str, str | None]:
        outcome = {}
        for row in rows:
            left = self.timeout if until is None else min(self.timeout, until - time.monotonic())
            if left <= 0:
                break  # the round's deadline: the rest wait for the next round
            data = body(row)
            headers = {"Content-Type": "application/json", "X-Pssync-Event-Id": row["event_id"]}
            if self.secret:
                headers[SIGNATURE_HEADER] = sign(self.secret, data)
            outcome[row["event_id"]] = post(self.url, data, headers, left)
            if outcome[row["event_id"]] is not None:
                break  # the endpoint is failing: the rest wait for the next round rather than a timeout each
        return outcome


def post(url: str, data: bytes, headers: dict, deadline: float) -> str | None:
    """POST ``data``; None on a 2xx answer, else the error. The whole exchange ends within ``deadline`` seconds: the
    request runs on a thread and its connection is closed when the time is up."""
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=deadline)
    result: list = []

    def exchange() -> None:
        try:
            conn.request("POST", parts.path + (f"?{parts.query}" if parts.query else "") or "/", data, headers)
            answer = conn.getresponse()
            answer.read()
            result.append(None if 200 <= answer.status < 300 else f"HTTP {answer.status}")
        except (OSError, http.client.HTTPException) as exc:
            result.append(f"unreachable: {exc!r}")

    worker = threading.Thread(target=exchange, daemon=True)
    worker.start()
    worker.join(deadline)
    conn.close()  # ends a peer that is still dripping its answer
    return result[0] if result else f"no whole answer within {deadline:.1f} s"


@dataclass
class Nats:
    """A NATS JetStream stream: each event published on ``<prefix>.<type>`` with ``Nats-Msg-Id`` = the event id.
    The stream is created (subjects ``<prefix>.>``) if it does not exist."""

    url: str
    stream: str = "PSSYNC_EVENTS"
    prefix: str = "pssync"
    timeout: float = 5

    @property
    def name(self) -> str:
        return f"nats:{self.url}/{self.stream}"

    def send(self, rows: list, until: float | None = None) -> dict[str, str | None]:
        left = None if until is None else max(0.1, until - time.monotonic())
        try:
            return asyncio.run(asyncio.wait_for(self._send(rows), left))
        except TimeoutError:
            return {rows[0]["event_id"]: f"no acknowledgement within {left:.1f} s"}

    async def _send(self, rows: list) -> dict[str, str | None]:
        async def quiet(exc):  # nats-py logs every failed connection attempt; the delivery records the error
            pass

        try:  # nats-py retries an initial connection that is refused; a plain connect fails at once
            address = urllib.parse.urlsplit(self.url)
            socket.create_connection((address.hostname, address.port or 4222), timeout=self.timeout).close()
            nc = await asyncio.wait_for(
                nats.connect(self.url, connect_timeout=self.timeout, allow_reconnect=False, error_cb=quiet),
                self.timeout * 2,
            )
        except Exception as exc:
            return {row["event_id"]: f"unreachable: {exc!r}" for row in rows}
        outcome: dict[str, str | None] = {}
        try:
            js = nc.jetstream(timeout=self.timeout)
            try:
                try:
                    await js.stream_info(self.stream)
                except NotFoundError:
                    await js.add_stream(name=self.stream, subjects=[f"{self.prefix}.>"])
            except Exception as exc:
                why = f"{PERMANENT}stream {self.stream} ({self.prefix}.>) cannot be used: {exc}"
                return {row["event_id"]: why for row in rows}
            for row in rows:
                try:
                    await js.publish(
                        f"{self.prefix}.{row['type']}", body(row), headers={"Nats-Msg-Id": row["event_id"]}
                    )
                    outcome[row["event_id"]] = None
                except Exception as exc:
                    outcome[row["event_id"]] = f"{type(exc).__name__}: {exc}"
                    break  # the stream is failing: the rest wait for the next round
        finally:
            await nc.close()
        return outcome


def deliver(
    engine: sa.Engine,
    sinks: list,
    now: datetime,
    max_attempts: int = 8,
    backoff: timedelta = timedelta(seconds=30),
    limit: int = 5_000,
    deadline: float | None = None,
) -> dict[str, int]:
    """One round of delivery: every event not yet delivered to a sink and due is sent, oldest first, until the sink
    fails once (the rest of its events wait for the next round, so an endpoint that hangs costs one timeout a round,
    not one per event); a failure waits ``backoff`` x 2^(attempts - 1) before its next try and is dead after
    ``max_attempts`` (at once for a configuration error). A sender leases what it sends: two rounds at once never
    send one event twice to one sink. The round ends within ``deadline`` seconds (None: no limit). Returns counts."""
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    until = None if deadline is None else time.monotonic() + deadline
    me = uuid.uuid4().hex
    d = event_deliveries.c
    for sink in sinks:
        if until is not None and time.monotonic() >= until:
            break
        due = _lease(engine, sink, now, me, limit)
        if not due:
            continue
        outcome = sink.send(due, until)  # the events a sink stopped before (it was failing) are not attempted
        with writing(engine) as con:
            for row in (r for r in due if r["event_id"] in outcome):
                where = (d.event_id == row["event_id"]) & (d.sink == sink.name) & (d.leased_by == me)
                error = outcome[row["event_id"]]
                attempts = row["attempts"] + 1
                if error is None:
                    values = dict(state="delivered", attempts=attempts, delivered_at=now, last_error=None)
                    counts["delivered"] += 1
                elif attempts >= max_attempts or error.startswith(PERMANENT):
                    values = dict(state="dead", attempts=attempts, last_error=error)
                    counts["dead"] += 1
                else:
                    wait = backoff * (2 ** (attempts - 1))
                    values = dict(attempts=attempts, next_attempt_at=now + wait, last_error=error)
                    counts["failed"] += 1
                con.execute(event_deliveries.update().where(where).values(**values, leased_by=None, leased_until=None))
            # what the sink was not sent (it failed first, or the deadline came) is free for the next round at once
            mine = (d.sink == sink.name) & (d.leased_by == me)
            con.execute(event_deliveries.update().where(mine).values(leased_by=None, leased_until=None))
    return counts


def _lease(engine: sa.Engine, sink, now: datetime, me: str, limit: int) -> list:
    """Take the sink's due deliveries that no other sender holds (a sink gets every event of the outbox: one added
    later, the backlog too)."""
    d = event_deliveries.c
    with writing(engine) as con:
        missing = (
            sa.select(events.c.event_id)
            .where(~sa.exists().where((d.event_id == events.c.event_id) & (d.sink == sink.name)))
            .order_by(events.c.occurred_at, events.c.event_id)
        )
        new = [r.event_id for r in con.execute(missing)]
        if new:
            con.execute(
                event_deliveries.insert(),
                [dict(event_id=e, sink=sink.name, state="pending", attempts=0, next_attempt_at=now) for e in new],
            )
        free = (d.sink == sink.name) & (d.state == "pending") & (d.next_attempt_at <= now)
        free &= d.leased_until.is_(None) | (d.leased_until < now)
        ids = [
            r.event_id
            for r in con.execute(
                sa.select(d.event_id)
                .join(events, d.event_id == events.c.event_id)
                .where(free)
                .order_by(events.c.occurred_at, events.c.event_id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=event_deliveries)
            )
        ]
        for i in range(0, len(ids), 500):
            con.execute(
                event_deliveries.update()
                .where(free & d.event_id.in_(ids[i : i + 500]))
                .values(leased_by=me, leased_until=now + LEASE)
            )
        return [
            r._mapping
            for r in con.execute(
                sa.select(events, d.attempts)
                .join(event_deliveries, d.event_id == events.c.event_id)
                .where((d.sink == sink.name) & (d.leased_by == me))
                .order_by(events.c.occurred_at, events.c.event_id)
            )
        ]


def retry_dead(engine: sa.Engine, now: datetime, sink: str | None = None) -> int:
    """Dead-lettered deliveries back to pending, due now, their attempts counted afresh."""
    d = event_deliveries.c
    where = (d.state == "dead") & ((d.sink == sink) if sink else sa.true())
    with writing(engine) as con:
        return con.execute(
            event_deliveries.update()
            .where(where)
            .values(state="pending", attempts=0, next_attempt_at=now, leased_by=None, leased_until=None)
        ).rowcount


def sinks_from(webhook_urls: str, webhook_secret: str, nats_url: str, nats_stream: str) -> list:
    """The sinks the settings configure (none: events are kept in the outbox only)."""
    sinks: list = [Webhook(u.strip(), webhook_secret) for u in webhook_urls.split(",") if u.strip()]
    if nats_url:
        sinks.append(Nats(nats_url, nats_stream))
    return sinks


def sinks_of(settings) -> list:
    """The sinks of the settings in force (``PSSYNC_WEBHOOK_URLS``, ``PSSYNC_WEBHOOK_SECRET``, ``PSSYNC_NATS_URL``,
    ``PSSYNC_NATS_STREAM``)."""
    return sinks_from(
        settings.webhook_urls, secret("PSSYNC_WEBHOOK_SECRET") or "", settings.nats_url, settings.nats_stream
    )
