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

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from workbench.store import event_deliveries, events

TYPES = (
    "exception.opened",
    "exception.escalated",
    "exception.resolved",
    "batch.emitted",
    "batch.released",
    "batch.rejected",
    "staffing.demand",
)
SIGNATURE_HEADER = "X-Pssync-Signature"


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
    fresh = {}
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
    """An HTTP endpoint: each event POSTed as JSON, signed; any 2xx answer is a delivery."""

    url: str
    secret: str = ""
    timeout: float = 10

    @property
    def name(self) -> str:
        return f"webhook:{self.url}"

    def send(self, rows: list) -> dict[str, str | None]:
        outcome = {}
        for row in rows:
            data = body(row)
            headers = {"Content-Type": "application/json", "X-Pssync-Event-Id": row["event_id"]}
            if self.secret:
                headers[SIGNATURE_HEADER] = sign(self.secret, data)
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - configured URL
                    outcome[row["event_id"]] = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
            except urllib.error.HTTPError as exc:
                outcome[row["event_id"]] = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                outcome[row["event_id"]] = f"unreachable: {getattr(exc, 'reason', exc)}"
            if outcome[row["event_id"]] is not None:
                break  # the endpoint is failing: the rest wait for the next round rather than a timeout each
        return outcome


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

    def send(self, rows: list) -> dict[str, str | None]:
        import asyncio

        return asyncio.run(self._send(rows))

    async def _send(self, rows: list) -> dict[str, str | None]:
        import asyncio
        import socket
        import urllib.parse

        import nats
        from nats.js.errors import NotFoundError

        async def quiet(exc):  # nats-py logs every failed connection attempt; the delivery records the error
            pass

        try:  # nats-py retries an initial connection that is refused; a plain connect fails at once
            address = urllib.parse.urlsplit(self.url)
            socket.create_connection((address.hostname, address.port or 4222), timeout=self.timeout).close()
            nc = await asyncio.wait_for(
                nats.connect(self.url, connect_timeout=self.timeout, allow_reconnect=False, error_cb=quiet),
                self.timeout * 2,
            )
        except Exception as exc:  # noqa: BLE001 - every event of this attempt failed the same way
            return {row["event_id"]: f"unreachable: {exc!r}" for row in rows}
        outcome = {}
        try:
            js = nc.jetstream(timeout=self.timeout)
            try:
                await js.stream_info(self.stream)
            except NotFoundError:
                await js.add_stream(name=self.stream, subjects=[f"{self.prefix}.>"])
            for row in rows:
                try:
                    await js.publish(
                        f"{self.prefix}.{row['type']}", body(row), headers={"Nats-Msg-Id": row["event_id"]}
                    )
                    outcome[row["event_id"]] = None
                except Exception as exc:  # noqa: BLE001 - recorded on the delivery, retried
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
) -> dict[str, int]:
    """One round of delivery: every event not yet delivered to a sink and due is sent, oldest first, until the sink
    fails once (the rest of its events wait for the next round, so an endpoint that hangs costs one timeout a round,
    not one per event); a failure waits ``backoff`` x 2^(attempts - 1) before its next try and is dead after
    ``max_attempts``. Returns counts."""
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    d = event_deliveries.c
    for sink in sinks:
        with engine.begin() as con:  # a sink gets every event of the outbox (one added later, the backlog too)
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
            due = [
                r._mapping
                for r in con.execute(
                    sa.select(events, d.attempts)
                    .join(event_deliveries, d.event_id == events.c.event_id)
                    .where((d.sink == sink.name) & (d.state == "pending") & (d.next_attempt_at <= now))
                    .order_by(events.c.occurred_at, events.c.event_id)
                    .limit(limit)
                )
            ]
        if not due:
            continue
        outcome = sink.send(due)  # the events a sink stopped before (it was failing) are not attempted
        with engine.begin() as con:
            for row in (r for r in due if r["event_id"] in outcome):
                error = outcome[row["event_id"]]
                where = (d.event_id == row["event_id"]) & (d.sink == sink.name)
                attempts = row["attempts"] + 1
                if error is None:
                    values = dict(state="delivered", attempts=attempts, delivered_at=now, last_error=None)
                    counts["delivered"] += 1
                elif attempts >= max_attempts:
                    values = dict(state="dead", attempts=attempts, last_error=error)
                    counts["dead"] += 1
                else:
                    wait = backoff * (2 ** (attempts - 1))
                    values = dict(attempts=attempts, next_attempt_at=now + wait, last_error=error)
                    counts["failed"] += 1
                con.execute(event_deliveries.update().where(where).values(**values))
    return counts


def retry_dead(engine: sa.Engine, now: datetime, sink: str | None = None) -> int:
    """Dead-lettered deliveries back to pending, due now, their attempts counted afresh."""
    d = event_deliveries.c
    where = (d.state == "dead") & ((d.sink == sink) if sink else sa.true())
    with engine.begin() as con:
        return con.execute(
            event_deliveries.update().where(where).values(state="pending", attempts=0, next_attempt_at=now)
        ).rowcount


def sinks_from(webhook_urls: str, webhook_secret: str, nats_url: str, nats_stream: str) -> list:
    """The sinks the settings configure (none: events are kept in the outbox only)."""
    sinks: list = [Webhook(u.strip(), webhook_secret) for u in webhook_urls.split(",") if u.strip()]
    if nats_url:
        sinks.append(Nats(nats_url, nats_stream))
    return sinks
