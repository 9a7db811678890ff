"""Batch release: a person decides what reaches the ERP.

The pipeline emits each billing batch ``pending`` (``register``, after its file is written). A finance user
releases or rejects it (``decide``). A batch whose gross in the reporting currency exceeds the store's dual-approval
threshold (workbench/policy.py), or whose gross could not be converted, is released by the second of two different
finance people; the first approval leaves it pending. Only
released batches are published to the ERP staging table (``to_publish``, by the pipeline's ``billing/erp_publication``
step). A rejection is final: the pipeline then takes the batch's keys out of ``billing.ledger`` (kept in
``billing.rejected_ledger``), so a later date's batch may carry them; a released batch's keys are never freed, so a
key is never in two released batches. The rejected batch's own file and lines stay as they were: replaying its date
writes the same bytes.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from resources.batch_files import HEADER_COLUMNS
from workbench.events import Event, record
from workbench.lifecycle import ActionRefused, audit_row
from workbench.policy import dual_above
from workbench.store import audit_trail, batch_reviews, exception_states, writing
from workbench.users import active

DECISIONS = ("release", "reject")
# work a pending batch carries that the PSA has since deleted or sent back (assets/workbench/withdrawn.py)
WITHDRAWN_RULE = "WITHDRAWN_WORK"
SUMMARY = ("state", "first_approver", "decided_by", "reason", "published_at")


def subject(batch_id: str) -> str:
    """The key of a batch's rows in the audit trail (exceptions are keyed layer|source|object|record_key|rule)."""
    return f"batch|{batch_id}"


def register(engine: sa.Engine, headers: list[dict], now: datetime) -> int:
    """Record newly emitted batches as pending (a batch already known keeps its state); returns how many were new."""
    with writing(engine) as con:
        known = {
            r.batch_id
            for r in con.execute(
                sa.select(batch_reviews.c.batch_id).where(
                    batch_reviews.c.batch_id.in_([h["batch_id"] for h in headers])
                )
            )
        }
        fresh = [h for h in headers if h["batch_id"] not in known]
        if fresh:
            cols = [c.name for c in batch_reviews.columns if c.name in fresh[0]]
            con.execute(
                batch_reviews.insert(),
                [{**{c: h[c] for c in cols}, "state": "pending", "emitted_at": now} for h in fresh],
            )
            record(con, [Event("batch.emitted", h["batch_id"], now, _payload(h, "pending")) for h in fresh])
    return len(fresh)


# the batch header of the emitted files (net and gross tell the amounts; the tax is on the batch page)
PAYLOAD = tuple(c for c in HEADER_COLUMNS if c != "tax_amount")


def _payload(h, state: str) -> dict:
    """What a batch event tells: the batch's header and its state."""
    return {**{k: h[k] for k in PAYLOAD}, "state": state}


def decide(
    engine: sa.Engine, batch_id: str, decision: str, actor: str, now: datetime, reason: str | None = None
) -> dict:
    """A finance person's release or rejection of a pending batch; returns the batch after. Raises ``ActionRefused``.

    The actor is who was authenticated (a session, a token, a password): never a name typed. A service account
    never decides. Above the store's dual-approval threshold for the batch's legal entity (workbench/policy.py) the
    first release is an approval and a second finance person releases. The change is a compare-and-set: it applies
    only to the state the decider read, so of two concurrent decisions one wins and the other is refused."""
    if decision not in DECISIONS:
        raise ActionRefused(f"{decision!r}: not a decision ({', '.join(DECISIONS)})")
    with writing(engine) as con:
        who = active(con, actor)
        if who is None or who.role != "finance":
            what = "not an active user" if who is None else who.role
            raise ActionRefused(f"{actor!r} is {what}: only finance releases or rejects")
        if not who.person:
            raise ActionRefused(f"{actor!r} is a service account: only a person releases or rejects a batch")
        t = batch_reviews.c
        row = con.execute(sa.select(batch_reviews).where(t.batch_id == batch_id).with_for_update()).first()
        if row is None:
            raise ActionRefused(f"no batch {batch_id!r} in the workflow store")
        row = row._mapping
        if row["state"] != "pending":
            raise ActionRefused(f"{batch_id} is {row['state']}: only a pending batch can be released or rejected")
        if decision == "release":
            _refuse_if_held(con, batch_id)
        threshold = dual_above(con, row["legal_entity"])
        gross = row["gross_reporting"]
        two_needed = gross is None or gross > threshold  # no rate known: two approvals (fail closed)
        if decision == "reject":
            if not (reason or "").strip():
                raise ActionRefused("a rejection needs a reason")
            update = dict(state="rejected", decided_by=actor, decided_at=now, reason=reason)
        elif two_needed and row["first_approver"] is None:
            update = dict(first_approver=actor, first_approved_at=now)  # the first of two approvals
        elif two_needed and row["first_approver"] == actor:
            raise ActionRefused(
                f"{batch_id} grosses {_reporting(row)}, above {threshold}: the second approval must come "
                f"from another finance user than {actor}"
            )
        else:
            update = dict(state="released", decided_by=actor, decided_at=now, reason=reason)
        seen = (t.state == "pending") & (
            t.first_approver.is_(None) if row["first_approver"] is None else t.first_approver == row["first_approver"]
        )
        changed = con.execute(batch_reviews.update().where((t.batch_id == batch_id) & seen).values(**update))
        if changed.rowcount != 1:
            raise ActionRefused(f"{batch_id} changed while you decided: reload it and decide again")
        after = {**dict(row), **update}
        action = decision if "state" in update else "approve"
        con.execute(
            audit_trail.insert().values(
                audit_row(now, actor, subject(batch_id), action, _summary(row), _summary(after), reason)
            )
        )
        if after["state"] != "pending":
            record(
                con, [Event(f"batch.{after['state']}", batch_id, now, {**_payload(after, after["state"]), "by": actor})]
            )
    return _plain(after)


def _reporting(row) -> str:
    if row["gross_reporting"] is None:
        return f"{row['gross_amount']} {row['currency']} (no rate to the reporting currency)"
    return f"{row['gross_reporting']} {row['reporting_currency']}"


def _refuse_if_held(con, batch_id: str) -> None:
    """A batch carrying withdrawn work is released only once each such exception is decided (waived)."""
    t = exception_states.c
    held = con.execute(
        sa.select(t.exception_key).where(
            (t.rule == WITHDRAWN_RULE) & t.record_key.startswith(f"{batch_id}|") & t.state.in_(("open", "acknowledged"))
        )
    ).first()
    if held is not None:
        raise ActionRefused(
            f"{batch_id} is held: it carries work the PSA no longer holds as approved ({held.exception_key}); "
            "waive that exception to bill the work as it stands, or reject the batch"
        )


def _summary(row) -> dict:
    return {c: row.get(c) for c in SUMMARY}


def _plain(row) -> dict:
    return json.loads(json.dumps(dict(row), default=str))


def batches(engine: sa.Engine, state: str | None = None) -> list[dict]:
    """Every batch the workflow store knows, newest date first (or those in one state)."""
    q = sa.select(batch_reviews).order_by(batch_reviews.c.as_of_date.desc(), batch_reviews.c.batch_id)
    if state:
        q = q.where(batch_reviews.c.state == state)
    with engine.connect() as con:
        return [dict(r._mapping) for r in con.execute(q)]


def batch(engine: sa.Engine, batch_id: str) -> dict | None:
    with engine.connect() as con:
        row = con.execute(sa.select(batch_reviews).where(batch_reviews.c.batch_id == batch_id)).first()
    return dict(row._mapping) if row else None


def rejected(engine: sa.Engine) -> list[str]:
    with engine.connect() as con:
        return [
            r.batch_id
            for r in con.execute(sa.select(batch_reviews.c.batch_id).where(batch_reviews.c.state == "rejected"))
        ]


def emitted_line_counts(engine: sa.Engine) -> dict[str, tuple]:
    """(as-of date, line count) of every batch registered as emitted and not rejected: what the billing ledger must
    still hold (assets/billing/ledger_guard.py)."""
    t = batch_reviews.c
    with engine.connect() as con:
        rows = con.execute(sa.select(t.batch_id, t.as_of_date, t.line_count).where(t.state != "rejected")).all()
    return {b: (d, n) for b, d, n in rows}


def to_publish(engine: sa.Engine) -> list[str]:
    """Released batches whose lines have not reached the ERP staging table yet, oldest first."""
    t = batch_reviews.c
    with engine.connect() as con:
        q = sa.select(t.batch_id).where((t.state == "released") & t.published_at.is_(None))
        return [r.batch_id for r in con.execute(q.order_by(t.as_of_date, t.batch_id))]


def mark_published(engine: sa.Engine, batch_id: str, now: datetime) -> None:
    with writing(engine) as con:
        con.execute(batch_reviews.update().where(batch_reviews.c.batch_id == batch_id).values(published_at=now))
