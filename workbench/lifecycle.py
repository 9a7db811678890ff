"""The exception lifecycle: what the pipeline finds, and what people do about it.

Every exception of ``ops.exceptions`` has a state in the workflow store:

* ``open``: found, nobody has taken it yet;
* ``acknowledged``: a person took it (``assignee``: who works it);
* ``waived``: a person accepts it, with a reason code and a comment; it stays waived while the finding is the
  same (its message, which carries the amount at risk, and its owner) and reopens by itself when that changes;
* ``resolved``: the pipeline no longer finds it; found again, it reopens.

The pipeline's findings are synchronised after each run (``sync_findings``); people act through ``act`` (the CLI
twin ``pssync exceptions ack|assign|waive|comment``). Every change, the pipeline's included (actor ``pssync``),
appends a row to the audit trail with the state before and after; rows are never updated or deleted.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from resources.sla import Sla
from workbench.access import may_act_on_exception
from workbench.events import Event, record
from workbench.policy import waiver_limit
from workbench.store import audit_trail, exception_states, pipeline_syncs, writing
from workbench.users import User, active

PIPELINE = "pssync"
WAIVER_REASONS = (
    "ACCEPTED_WRITE_OFF",  # the firm accepts the loss
    "CUSTOMER_AGREED",  # the customer agreed to the billing as it stands
    "FIXED_AT_SOURCE",  # corrected in the source system; the next extraction will show it
    "NOT_AN_ISSUE",  # the rule does not apply to this case (say why in the comment)
    "DUPLICATE",  # the same problem is worked under another exception
)
ACTIONS = ("ack", "assign", "waive", "comment")
STATE_COLUMNS = ("state", "assignee", "owner", "message", "waiver_reason", "due_at")


AT_RISK = re.compile(r"(-?[0-9][0-9,]*\.[0-9]{2}) ([A-Z]{3}) at risk")


class ActionRefused(ValueError):
    """An action the exception's state does not allow, or one missing what it needs; the message says which."""


@dataclass(frozen=True)
class Finding:
    layer: str
    source: str
    object: str
    record_key: str
    rule: str
    message: str
    owner: str | None
    resolved: bool

    @property
    def key(self) -> str:
        return "|".join((self.layer, self.source, self.object, self.record_key, self.rule))

    @property
    def at_risk(self) -> tuple[Decimal | None, str | None]:
        """The amount at risk and its currency, where the finding names one (recon's messages end
        ``..., 1,234.50 USD at risk``: sql/recon/exceptions/time_to_bill.sql)."""
        m = AT_RISK.search(self.message)
        return (Decimal(m.group(1).replace(",", "")), m.group(2)) if m else (None, None)

    @property
    def digest(self) -> str:
        """What a waiver accepts: the finding's message (its amount at risk included) and its owner."""
        return hashlib.sha256(f"{self.message}\x1f{self.owner or ''}".encode()).hexdigest()


def findings_of(duck, since: datetime | None = None) -> list[Finding]:
    """The exceptions of ``ops.exceptions`` (open and resolved) from a DuckDB connection on the warehouse: every
    one, or those a run saw or resolved at or after ``since`` (a run stamps ``last_seen`` on what it finds, and
    ``resolved_at`` on what it no longer finds: nothing else can have changed)."""
    rows = duck.execute(
        "SELECT layer, source, object, record_key, rule, message, owner, resolved_at IS NOT NULL "
        "FROM ops.exceptions WHERE $since IS NULL OR last_seen >= $since OR resolved_at >= $since ORDER BY ALL",
        {"since": since},
    ).fetchall()
    return [Finding(*r) for r in rows]


def last_sync(engine: sa.Engine) -> datetime | None:
    """When the previous reading of the pipeline's findings started (None: never)."""
    with engine.connect() as con:
        return con.execute(sa.select(sa.func.max(pipeline_syncs.c.started_at))).scalar()


def _snapshot(row) -> dict:
    return {c: row.get(c) for c in STATE_COLUMNS} if row is not None else {}


def audit_row(now: datetime, actor: str, key: str, action: str, before: dict, after: dict, comment=None) -> dict:
    """One row of the audit trail."""
    return dict(
        at=now,
        actor=actor,
        exception_key=key,
        action=action,
        before=json.dumps(before, sort_keys=True, default=str),
        after=json.dumps(after, sort_keys=True, default=str),
        comment=comment,
    )


def sync_findings(engine: sa.Engine, findings: list[Finding], now: datetime, sla: Sla | None = None) -> dict[str, int]:
    """Bring the states in line with what the pipeline finds, in one transaction with one statement per kind of
    change (a firm has hundreds of thousands of findings), escalate what is overdue, and record the sync: ``now``
    is when the findings were read, the next sync reads what changed from then on. ``sla``: when a (re)opened
    exception is due. Returns how many exceptions changed, by change."""
    changes = {"opened": 0, "reopened": 0, "resolved": 0, "escalated": 0}
    sla = sla or Sla({})

    inserts, updates, audits, told = [], [], [], []
    with writing(engine) as con:
        known = _states_of(con, [f.key for f in findings])
        for f in findings:
            row = known.get(f.key)
            if row is None:
                if f.resolved:
                    continue  # found and gone before the workbench knew it: nothing to work
                amount, currency = f.at_risk
                values = dict(
                    exception_key=f.key,
                    layer=f.layer,
                    source=f.source,
                    object=f.object,
                    record_key=f.record_key,
                    rule=f.rule,
                    owner=f.owner,
                    message=f.message,
                    state="open",
                    finding=f.digest,
                    opened_at=now,
                    updated_at=now,
                    due_at=sla.due(now, f.owner, amount),
                    amount_at_risk=amount,
                    currency=currency,
                )
                inserts.append(values)
                audits.append(audit_row(now, PIPELINE, f.key, "opened", {}, _snapshot(values)))
                told.append(_event("exception.opened", values, now))
                changes["opened"] += 1
                continue
            update, action = _pipeline_change(row, f)
            if action == "reopened":  # a new clock
                update.update(due_at=sla.due(now, f.owner, f.at_risk[0]), escalated_at=None)
            if not update:
                continue
            after = {**dict(row), **update}
            updates.append({"key": f.key, **{c: after[c] for c in UPDATED}, "updated_at": now})
            audits.append(
                audit_row(now, PIPELINE, f.key, action or "finding_changed", _snapshot(row), _snapshot(after))
            )
            if action:
                changes[action] += 1
                told.append(_event("exception.resolved" if action == "resolved" else "exception.opened", after, now))
        if inserts:
            con.execute(exception_states.insert(), inserts)
        if updates:
            con.execute(
                exception_states.update()
                .where(exception_states.c.exception_key == sa.bindparam("key"))
                .values({c: sa.bindparam(c) for c in (*UPDATED, "updated_at")}),
                updates,
            )
        if audits:
            con.execute(audit_trail.insert(), audits)
        escalated = _escalate(con, now)
        changes["escalated"] = len(escalated)
        record(con, told + [_event("exception.escalated", r, now) for r in escalated])
        con.execute(pipeline_syncs.insert().values(started_at=now, findings_read=len(findings)))
    return changes


def _event(type_: str, row, now: datetime) -> Event:
    """The business event of a change to one exception."""
    payload = {c: row.get(c) for c in ("exception_key", "rule", "owner", "message", "state", "assignee", "due_at")}
    return Event(type_, row["exception_key"], now, payload, f"{now.isoformat()}|{row['finding']}")


def _escalate(con, now: datetime) -> list:
    """Open or acknowledged exceptions past their due date, not escalated since they (re)opened: escalated now."""
    t = exception_states.c
    overdue = (
        t.state.in_(("open", "acknowledged")) & t.due_at.is_not(None) & (t.due_at < now) & t.escalated_at.is_(None)
    )
    rows = [r._mapping for r in con.execute(sa.select(exception_states).where(overdue))]
    if rows:
        con.execute(exception_states.update().where(overdue).values(escalated_at=now))
        con.execute(
            audit_trail.insert(),
            [audit_row(now, PIPELINE, r["exception_key"], "escalated", _snapshot(r), _snapshot(r)) for r in rows],
        )
    return rows


def _states_of(con, keys: list[str]) -> dict:
    """The stored states of these exceptions (a run after the first reads a few: only theirs are loaded)."""
    if len(keys) > 20_000:
        rows = con.execute(sa.select(exception_states))
    else:
        rows = (
            r
            for i in range(0, len(keys), 500)
            for r in con.execute(
                sa.select(exception_states).where(exception_states.c.exception_key.in_(keys[i : i + 500]))
            )
        )
    return {r.exception_key: r._mapping for r in rows}


# the columns a change by the pipeline may set
UPDATED = (
    "state",
    "assignee",
    "waiver_reason",
    "finding",
    "message",
    "owner",
    "due_at",
    "escalated_at",
    "amount_at_risk",
    "currency",
)


def _pipeline_change(row, f: Finding) -> tuple[dict, str | None]:
    """What the pipeline's finding changes in an exception's state, and the name of that change."""
    update: dict = {}
    action = None
    if f.resolved and row["state"] != "resolved":
        update, action = {"state": "resolved"}, "resolved"
    elif not f.resolved and row["state"] == "resolved":
        update, action = {"state": "open", "assignee": None, "waiver_reason": None}, "reopened"
    elif not f.resolved and row["state"] == "waived" and row["waived_finding"] != f.digest:
        update, action = {"state": "open", "waiver_reason": None}, "reopened"
    if not f.resolved and row["finding"] != f.digest:
        update.update(
            finding=f.digest, message=f.message, owner=f.owner, amount_at_risk=f.at_risk[0], currency=f.at_risk[1]
        )
    return update, action


def act(
    engine: sa.Engine,
    key: str,
    action: str,
    actor: str,
    now: datetime,
    assignee: str | None = None,
    reason: str | None = None,
    comment: str | None = None,
) -> dict:
    """A person's action on one exception, if their role may act on its owner's exceptions (workbench/access.py);
    returns its state after. Raises ``ActionRefused``."""
    if action not in ACTIONS:
        raise ActionRefused(f"{action!r}: not an action ({', '.join(ACTIONS)})")
    if not actor.strip():
        raise ActionRefused("an action needs the person who takes it")
    with writing(engine) as con:
        t = exception_states.c
        row = con.execute(sa.select(exception_states).where(t.exception_key == key).with_for_update()).first()
        if row is None:
            raise ActionRefused(f"no exception {key!r} in the workflow store (run a sync first)")
        row = row._mapping
        who = active(con, actor)
        if who is None:
            raise ActionRefused(f"{actor!r} is not an active workbench user (pssync users add)")
        role = who.role
        if not may_act_on_exception(role, row["owner"]):
            raise ActionRefused(f"{actor} ({role}) cannot act on an exception owned by {row['owner'] or 'integration'}")
        if action == "waive":
            _check_waiver(con, who, row)
        if assignee is not None and action in ("ack", "assign"):
            _check_assignee(con, assignee, row)
        update = _transition(row, action, actor, assignee, reason, comment)
        after = {**dict(row), **update}
        if update:  # compare-and-set: only from the state the actor read
            seen = (t.exception_key == key) & (t.state == row["state"]) & (t.finding == row["finding"])
            seen &= t.assignee.is_(None) if row["assignee"] is None else t.assignee == row["assignee"]
            if con.execute(exception_states.update().where(seen).values(**update, updated_at=now)).rowcount != 1:
                raise ActionRefused(f"{key} changed while you acted: reload it and act again")
        con.execute(
            audit_trail.insert().values(audit_row(now, actor, key, action, _snapshot(row), _snapshot(after), comment))
        )
    return _snapshot(after)


def _check_waiver(con, who: User, row) -> None:
    """A waiver accepts money at risk: a person's, within their role's limit (workbench/policy.py)."""
    if not who.person:
        raise ActionRefused(f"{who.username!r} is a service account: only a person waives an exception")
    limit = waiver_limit(con, who.role)
    amount = row["amount_at_risk"]
    if limit is not None and amount is not None and amount > limit:
        raise ActionRefused(
            f"{amount} {row['currency'] or ''} at risk is above the {who.role} waiver limit of {limit} "
            f"(policy waiver_limit.{who.role}): a user of a role with a higher limit must waive it"
        )


def _check_assignee(con, assignee: str, row) -> None:
    """Work goes to an active user whose role may work the exception."""
    found = active(con, assignee)
    if found is None:
        raise ActionRefused(f"{assignee!r} is not an active workbench user: assign it to someone who is")
    if not may_act_on_exception(found.role, row["owner"]):
        raise ActionRefused(
            f"{assignee} ({found.role}) cannot work an exception owned by {row['owner'] or 'integration'}"
        )


def _transition(row, action: str, actor: str, assignee, reason, comment) -> dict:
    state = row["state"]
    if action == "comment":
        if not (comment or "").strip():
            raise ActionRefused("a comment needs its text")
        return {}
    if state == "resolved":
        raise ActionRefused(f"{row['exception_key']} is resolved: the pipeline no longer finds it")
    if action == "ack":
        if state != "open":
            raise ActionRefused(f"{row['exception_key']} is {state}, not open: it cannot be acknowledged")
        return {"state": "acknowledged", "assignee": assignee or row["assignee"] or actor}
    if action == "assign":
        if not assignee:
            raise ActionRefused("assign needs the person to assign it to")
        if state == "waived":
            raise ActionRefused(f"{row['exception_key']} is waived: reopened findings can be assigned")
        return {"state": "acknowledged", "assignee": assignee}
    # waive
    if state == "waived":
        raise ActionRefused(f"{row['exception_key']} is already waived")
    if reason not in WAIVER_REASONS:
        raise ActionRefused(f"a waiver needs a reason code, one of {', '.join(WAIVER_REASONS)}")
    if not (comment or "").strip():
        raise ActionRefused("a waiver needs a comment saying why")
    return {"state": "waived", "waiver_reason": reason, "waived_finding": row["finding"]}


def history(engine: sa.Engine, key: str) -> list[dict]:
    """The audit trail of one exception, oldest first."""
    with engine.connect() as con:
        rows = con.execute(
            sa.select(audit_trail).where(audit_trail.c.exception_key == key).order_by(audit_trail.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]
