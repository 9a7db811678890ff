"""The controls' policy: settings of the workflow store, not of the process that acts.

* ``dual_approval_above``: the gross in the reporting currency (at the rate of the batch's date) above which a
  billing batch needs two different finance people to release it (a batch whose gross has no rate needs two);
  ``dual_approval_above.<LEGAL_ENTITY>`` overrides it for one entity. ``off`` is not a value: a firm that wants one
  approval for everything sets 999999999999.99 and that choice is audited.
* ``waiver_limit.<role>``: the largest amount at risk a person of that role may waive; above it, the waiver is
  refused and names the limit (unset: no limit for the role).

Only an active admin person changes a policy (``set_policy``); each change is a row of the audit trail (subject
``policy|<name>``) and a ``policy.changed`` event. Nothing in the acting process's environment is read.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from resources.settings import MAX_AMOUNT
from workbench.events import Event, record
from workbench.store import audit_trail, policies, writing
from workbench.users import ROLES, active, is_admin

NAME = re.compile(r"(dual_approval_above)(\.[A-Z0-9]{2,12})?|(waiver_limit)\.(" + "|".join(ROLES) + ")")


class PolicyError(ValueError):
    """A policy name or value that is refused, or a caller who may not change it; the message says why."""


def amount(name: str, value: str) -> Decimal:
    """A policy amount: a plain decimal with at most two places, 0 to 999,999,999,999.99."""
    try:
        d = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise PolicyError(f"{name}: {value!r} is not an amount such as 50000.00") from None
    if not d.is_finite() or d < 0 or d > MAX_AMOUNT or d != d.quantize(Decimal("0.01")):
        raise PolicyError(f"{name}: {value!r} must be an amount from 0 to {MAX_AMOUNT} with at most two decimals")
    return d.quantize(Decimal("0.01"))


def read(con) -> dict[str, str]:
    return dict(con.execute(sa.select(policies.c.name, policies.c.value)).all())


def all_policies(engine: sa.Engine) -> list[dict]:
    with engine.connect() as con:
        return [dict(r._mapping) for r in con.execute(sa.select(policies).order_by(policies.c.name))]


def dual_above(con, legal_entity: str) -> Decimal:
    """The dual-approval threshold for a batch of this legal entity, read inside the caller's transaction."""
    values = read(con)
    return Decimal(values.get(f"dual_approval_above.{legal_entity}") or values.get("dual_approval_above") or 0)


def waiver_limit(con, role: str) -> Decimal | None:
    value = read(con).get(f"waiver_limit.{role}")
    return Decimal(value) if value is not None else None


def set_policy(engine: sa.Engine, name: str, value: str | None, actor: str, now: datetime) -> dict:
    """Set (or, with ``value`` None, remove an override or limit) one policy as the admin ``actor``."""
    if not NAME.fullmatch(name or ""):
        raise PolicyError(
            f"{name!r}: not a policy (dual_approval_above, dual_approval_above.<ENTITY>, waiver_limit.<role>)"
        )
    if value is None and name == "dual_approval_above":
        raise PolicyError("dual_approval_above cannot be removed: set another amount")
    shown = None if value is None else str(amount(name, value))
    with writing(engine) as con:
        who = active(con, actor)
        if not is_admin(who):
            raise PolicyError(f"{actor!r} is not an active admin person: only an admin changes the policy")
        before = read(con).get(name)
        if shown is None:
            con.execute(policies.delete().where(policies.c.name == name))
        elif before is None:
            con.execute(policies.insert().values(name=name, value=shown, updated_by=actor, updated_at=now))
        else:
            con.execute(
                policies.update().where(policies.c.name == name).values(value=shown, updated_by=actor, updated_at=now)
            )
        change = {"name": name, "before": before, "after": shown, "by": actor}
        con.execute(
            audit_trail.insert().values(
                at=now,
                actor=actor,
                exception_key=f"policy|{name}",
                action="policy_changed",
                before=json.dumps({"value": before}),
                after=json.dumps({"value": shown}),
            )
        )
        record(con, [Event("policy.changed", name, now, change)])
    return change
