"""Who may see and do what in the workbench: one table per kind of thing, read by the pages and the API alike."""

from __future__ import annotations

ALL = None
# the exception owners each role works (ALL: every owner)
OWNERS = {
    "finance": ("finance", "integration"),
    "delivery": ("delivery",),
    "hr": ("hr",),
    "analyst": ALL,
    "admin": ALL,
}
READ_ONLY = {"analyst"}
BATCH_VIEWERS = {"finance", "delivery", "analyst", "admin"}
BATCH_DECIDERS = {"finance"}
COST_VIEWERS = {"finance", "hr", "admin"}  # HR cost rates and what is computed from them (labor cost, margin)


class Refused(Exception):
    """What the signed-in role may not see or do; the message says what."""


def owners_seen(role: str) -> tuple[str, ...] | None:
    """The exception owners a role sees (None: all)."""
    if role not in OWNERS:
        raise Refused(f"role {role!r} has no access")
    return OWNERS[role]


def may_see_exception(role: str, owner: str | None) -> bool:
    seen = owners_seen(role)
    return seen is ALL or (owner or "integration") in seen


def may_act_on_exception(role: str, owner: str | None) -> bool:
    return role not in READ_ONLY and may_see_exception(role, owner)


def require(allowed: bool, what: str) -> None:
    if not allowed:
        raise Refused(what)
