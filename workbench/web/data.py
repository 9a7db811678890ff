"""What the workbench's pages and API read: the workflow store (exceptions, batches, history) and, for figures, the
published snapshot (``<output>/published/pssync.duckdb``, readable while a sync writes the warehouse) and the batch
files. Every statement takes its values as parameters."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import sqlalchemy as sa

from resources.batch_files import BatchIntegrityError, batch_path
from resources.outputs import OutputFolder, snapshot_path
from resources.warehouse import bound_params, sql_text
from workbench.store import exception_states

STATES = ("open", "acknowledged", "waived", "resolved")
PAGE = 200


def worklist(
    engine: sa.Engine,
    owners: tuple[str, ...] | None,
    now: datetime,
    owner: str | None = None,
    state: str | None = None,
    rule: str | None = None,
    text: str | None = None,
    limit: int = PAGE,
    offset: int = 0,
) -> tuple[list[dict], int]:
    """Exceptions the role sees, filtered, most money at risk first (then oldest); with the count of all matches."""
    t = exception_states.c
    where: list[sa.ColumnElement[bool]] = [sa.true()]
    if owners is not None:
        where.append(sa.func.coalesce(t.owner, "integration").in_(owners))
    if owner:
        where.append(sa.func.coalesce(t.owner, "integration") == owner)
    where.append(t.state == state if state else t.state.in_(("open", "acknowledged")))
    if rule:
        where.append(t.rule == rule)
    if text:
        where.append(t.exception_key.contains(text, autoescape=True) | t.message.contains(text, autoescape=True))
    cond = sa.and_(*where)
    q = (
        sa.select(exception_states)
        .where(cond)
        .order_by(t.amount_at_risk.desc().nulls_last(), t.opened_at, t.exception_key)
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as con:
        rows = [_with_age(dict(r._mapping), now) for r in con.execute(q)]
        total = con.execute(sa.select(sa.func.count()).select_from(exception_states).where(cond)).scalar_one()
    return rows, total


def _with_age(row: dict, now: datetime) -> dict:
    row["age_days"] = (now - row["opened_at"]).days
    row["overdue"] = bool(row["due_at"] and row["due_at"] < now and row["state"] in ("open", "acknowledged"))
    return row


def exception(engine: sa.Engine, key: str, now: datetime) -> dict | None:
    with engine.connect() as con:
        row = con.execute(sa.select(exception_states).where(exception_states.c.exception_key == key)).first()
    return _with_age(dict(row._mapping), now) if row else None


def rules(engine: sa.Engine, owners: tuple[str, ...] | None) -> list[str]:
    t = exception_states.c
    q = sa.select(t.rule).distinct().order_by(t.rule)
    if owners is not None:
        q = q.where(sa.func.coalesce(t.owner, "integration").in_(owners))
    with engine.connect() as con:
        return [r.rule for r in con.execute(q)]


def batch_lines(outputs: str, batch_id: str) -> list[dict]:
    """A batch's lines from its emitted file (the bytes the ERP gets), or none if the file is not there."""
    try:
        path = batch_path(OutputFolder(path=outputs), batch_id)
    except BatchIntegrityError:
        return []
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["lines"]


# dashboard parts computed from HR cost rates: read from the restricted snapshot (assets/marts/publish.py)
COST_PARTS = ("margin",)


def figures(outputs: str, parts: tuple[str, ...]) -> dict:
    """The rows of ``sql/workbench/dashboard_<part>.sql`` for each part, on the published as-of date (``as_of`` None
    and no parts when nothing is published yet). Cost parts come from the restricted snapshot: the caller checks
    that the role sees costs."""
    out = _figures(snapshot_path(outputs), tuple(p for p in parts if p not in COST_PARTS))
    costs = tuple(p for p in parts if p in COST_PARTS)
    if costs and out["as_of"] is not None:
        out.update({k: v for k, v in _figures(snapshot_path(outputs, True), costs).items() if k != "as_of"})
        for name in costs:
            out.setdefault(name, [])
    return out


def _figures(path: Path, parts: tuple[str, ...]) -> dict:
    if not path.exists():
        return {"as_of": None}
    con = duckdb.connect(str(path), read_only=True)
    try:
        as_of = con.execute("SELECT max(as_of_date) FROM ops.published").fetchall()[0][0]
        out = {"as_of": as_of}
        for name in parts:
            query = sql_text(f"workbench/dashboard_{name}")
            cur = con.execute(query, bound_params(query, {"as_of": as_of}))
            cols = [d[0] for d in cur.description]
            out[name] = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    return out


def dashboard(outputs: str, with_costs: bool) -> dict:
    """Leakage, realization and utilization (and margin, for the roles that see costs) of the published as-of
    date; empty when nothing is published yet."""
    out = figures(outputs, ("leakage", "realization", "utilization", *(("margin",) if with_costs else ())))
    if out["as_of"] is not None:
        out["leakage_total"] = sum((r["leakage"] for r in out["leakage"]), Decimal("0"))
        out["reporting_currency"] = out["leakage"][0]["reporting_currency"] if out["leakage"] else ""
    return out
