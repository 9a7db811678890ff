"""Recon assets, one partition per as-of date: time to bill, unmatched billing lines, contractor hours."""

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from assets.billing.release import free_rejected_keys
from assets.common import (
    TEAM,
    is_latest_as_of,
    now_utc,
    write_by_entity,
    writer_pool,
)
from assets.dependencies import deps_of
from assets.marts.assets import ensure_entity_mart_views
from assets.ops.exceptions import record_exceptions_from
from assets.partitions import ONE_RUN_PER_BACKFILL, as_of_partitions, by_date, entity_partitions, entity_partitions_of
from assets.recon import incremental
from assets.recon.kept import OFF
from assets.versions import entity_parts, entity_table, split_by_entity
from resources import Warehouse
from resources.columns import column_schema
from resources.settings import PssyncSettings
from resources.warehouse import sql_text, table_exists

# besides what its SQL reads: every canonical table whose rejected rows can hold billing (recon.billing_holds reads
# their exceptions, which those assets write)
FAULT_INPUTS = tuple(
    f"canonical/{n}"
    for n in (
        "client",
        "contract",
        "customer",
        "rate_card",
        "tax_code",
        "currency_rate",
        "invoice",
        "invoice_line",
        "project",
        "assignment",
        "resource",
        "time_entry",
        "milestone",
        "expense",
        "employee",
    )
)
TIME_TO_BILL = dg.AssetKey(["recon", "time_to_bill"])


def as_of_of(context) -> date:
    return date.fromisoformat(context.partition_key)


def params_for(as_of: date, settings: PssyncSettings) -> dict:
    """The parameters of a recon query for a whole date (``scoped``: only the entries of ops.recon_scope)."""
    return {"as_of": as_of, "reporting": settings.reporting_currency, "scoped": False}


def _input_problems(con, as_of: date) -> list[str]:
    """Feeds broken as a whole as of this date (no rate cards, no currency rates, a collapsed crosswalk): they
    hold all billing (recon.billing_holds, rule broken_feed); recon and the marts are still built."""
    return [
        m
        for (m,) in con.execute(
            "SELECT DISTINCT message FROM recon.billing_holds WHERE as_of_date = ? AND rule = 'broken_feed' ORDER BY 1",
            [as_of],
        ).fetchall()
    ]


def _status_table(con, as_of: date, entities: list[str]) -> tuple[dict[str, int], str]:
    """Entries per status, and a table of them per status and reason with the amount at risk."""
    rows = con.execute(
        """
        SELECT recon_status, coalesce(reason, ''), count(*), sum(amount_at_risk_reporting)
        FROM recon.time_to_bill WHERE as_of_date = ? AND list_contains(?, legal_entity) GROUP BY 1, 2 ORDER BY 1, 2""",
        [as_of, entities],
    ).fetchall()
    counts: dict[str, int] = {}
    for s, _, n, _ in rows:
        counts[s] = counts.get(s, 0) + n
    lines = ["| status | reason | entries | amount at risk (reporting) |", "|---|---|---:|---:|"]
    lines += [f"| {s} | {r} | {n:,} | {a or 0:,.2f} |" for s, r, n, a in rows]
    return counts, "\n".join(lines)


def _top_exceptions(con, as_of: date, entities: list[str]) -> str:
    rows = con.execute(
        """
        SELECT time_entry_id, recon_status, coalesce(reason, ''), owner, project_code, amount_at_risk, currency
        FROM recon.time_to_bill WHERE as_of_date = ? AND list_contains(?, legal_entity) AND owner IS NOT NULL
        ORDER BY amount_at_risk_reporting DESC NULLS LAST, time_entry_id LIMIT 10""",
        [as_of, entities],
    ).fetchall()
    lines = ["| entry | status | reason | owner | project | at risk |", "|---:|---|---|---|---|---:|"]
    lines += [f"| {e} | {s} | {r} | {o} | {p} | {a or 0:,.2f} {c} |" for e, s, r, o, p, a, c in rows]
    return "\n".join(lines)


# no writer pool: an entity's step writes only its entity's parts of the tables (recon.time_to_bill__le_<entity>),
# and the run coordinator keeps each entity's runs one at a time (dagster/partition/legal_entity)
@dg.asset(
    key=TIME_TO_BILL,
    group_name="recon",
    partitions_def=entity_partitions,
    backfill_policy=ONE_RUN_PER_BACKFILL,
    deps=deps_of("recon/time_to_bill", itself=TIME_TO_BILL),
    owners=[TEAM["finance"]],
    kinds={"duckdb", "sql"},
    tags={"layer": "recon"},
    description="`recon.time_to_bill`: one row per time entry in scope as of the partition date (every "
    "live-approved entry, plus every entry with a billed line), with expected and billed values, the "
    "recon_status (first matching rule, see docs/recon.md), reason, owner, amount at risk and age. "
    "Replaying a date reproduces its rows. SQL: `sql/recon/time_to_bill.sql`.\n\n"
    "Per legal entity: each (date, entity) partition reconciles the entries of the entity's projects into a table "
    "of its own (`recon.time_to_bill__le_<entity>`), so entities reconcile side by side; `recon.time_to_bill` is "
    "the firm-wide view over them.\n\n"
    "Fail closed: entries that `recon.billing_holds` holds and that would bill are INELIGIBLE / INPUT_HELD, and "
    "`billing_hold` names the input.",
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=2)),
    metadata={
        "dagster/column_schema": column_schema("recon/time_to_bill"),
        "dagster/table_name": "recon.time_to_bill",
    },
    check_specs=[
        dg.AssetCheckSpec(
            "inputs_fit_for_billing",
            asset=TIME_TO_BILL,
            description="Fails when a feed broke as a whole as of the date: no rate cards, no "
            "currency rates, or a crosswalk that lost more than half its matches "
            "since the day before. Billing is then held (recon.billing_holds); "
            "recon and the marts are still built.",
        )
    ],
)
def time_to_bill(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: PssyncSettings):
    outcomes = []
    with warehouse.connect() as con:
        free_rejected_keys(con, settings.workflow, context.log)  # entries of rejected batches are unbilled again
        for as_of, entities in by_date(entity_partitions_of(context)):
            outcomes.append(reconcile(con, as_of, entities, settings))
    for o in outcomes:
        context.log.info(f"recon.time_to_bill {o.as_of} ({', '.join(o.entities)}): recomputed the {o.recomputed}")
        for hold in o.holds[:20]:
            context.log.warning(hold)
    last = outcomes[-1]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(o.rows for o in outcomes),
            "as_of": ", ".join(o.as_of.isoformat() for o in outcomes),
            "legal_entities": ", ".join(sorted({e for o in outcomes for e in o.entities})),
            "recomputed": "; ".join(o.recomputed for o in outcomes),
            "recomputed_entries": sum(o.recomputed_entries for o in outcomes),
            "by_status": last.counts,
            "billing_holds": len(last.holds),
            "billing_held_for": last.holds[:50] or ["nothing held"],
            "status_summary": dg.MetadataValue.md(last.status_md),
            "top_exceptions": dg.MetadataValue.md(last.top_md),
        }
    )
    problems = sorted({p for o in outcomes for p in o.problems})
    yield dg.AssetCheckResult(
        check_name="inputs_fit_for_billing",
        asset_key=TIME_TO_BILL,
        passed=not problems,
        metadata={"problems": problems or ["none"]},
        description="; ".join(problems) or "inputs complete",
    )


@dataclass
class Reconciled:
    """What one reconciliation of legal entities on an as-of date wrote."""

    as_of: date
    entities: list[str]
    rows: int
    recomputed: str
    recomputed_entries: int
    counts: dict
    status_md: str
    top_md: str
    holds: list[str]
    problems: list[str]


SPLIT = ("recon.cap_usage", "recon.time_to_bill")  # written per legal entity, read through the firm-wide views


def reconcile(con, as_of: date, entities: list[str], settings: PssyncSettings) -> Reconciled:
    """Reconcile the entries of legal entities ``entities`` on ``as_of`` in one transaction: one query for them all,
    each entity's rows kept in its own part of recon.cap_usage and recon.time_to_bill. A rerun of a reconciled date
    recomputes only the entries whose inputs changed since (assets/recon/incremental.py), unless one of the
    entities must recompute the date whole."""
    params = {**params_for(as_of, settings), "legal_entities": entities}
    con.begin()
    for table in SPLIT:
        split_by_entity(con, table)  # a warehouse written before the split
    con.execute("CREATE OR REPLACE TEMP TABLE _entity_entries (time_entry_id BIGINT, recompute BOOLEAN)")
    scopes = {}
    for e in entities:
        planned = settings.recon_incremental
        scopes[e] = incremental.plan(con, as_of, params, incremental.for_entity(e)) if planned else OFF
        if not scopes[e].full:
            con.execute("INSERT INTO _entity_entries SELECT time_entry_id, recompute FROM _recon_entries")
    full = next((sc for sc in scopes.values() if sc.full), None)
    if full is None:  # every entity bounded: what any of them recomputes (their arrivals are mostly the same)
        scoped_to(con, "SELECT time_entry_id, bool_or(recompute) FROM _entity_entries GROUP BY 1")
    con.execute("DROP TABLE _entity_entries")
    params["scoped"] = full is None
    within = None if full else "SELECT time_entry_id FROM ops.recon_scope WHERE recompute"
    for table in SPLIT:  # the caps' consumption first: time to bill reads it
        written = write_by_entity(con, table, sql_text(table.replace(".", "/")), params, as_of, entities, within)
    rows = sum(written.values())
    for e in entities:  # ops.exceptions is written once for every entity, after them (time_to_bill_exceptions)
        _leave_for_recording(con, entity_table("recon.time_to_bill", e), as_of, scoped=params["scoped"])
    recomputed = rows if full else con.execute("SELECT count(*) FROM ops.recon_scope WHERE recompute").fetchall()[0][0]
    scoped_to(con, None)  # emptied: the scope lives within this run
    known: dict = {}  # the inputs are firm-wide: their states are read once for every entity
    for e in entities:
        incremental.remember(con, as_of, params, incremental.for_entity(e), scopes[e], known)
    holds = con.execute("SELECT hold FROM recon.billing_holds WHERE as_of_date = ? ORDER BY 1", [as_of]).fetchall()
    holds = [h for (h,) in holds]
    counts, status_md = _status_table(con, as_of, entities)
    outcome = Reconciled(
        as_of,
        entities,
        rows,
        (full or next(iter(scopes.values()))).describe(),
        recomputed,
        counts,
        status_md,
        _top_exceptions(con, as_of, entities),
        holds,
        _input_problems(con, as_of),
    )
    con.commit()
    return outcome


def _unrecorded(part: str) -> str:
    """The entries of a legal entity's part of recon.time_to_bill recomputed since ops.exceptions last recorded
    them: a table of the part's own, so that entities reconciling side by side share no table they rewrite."""
    return f"{part}__unrecorded"


def _leave_for_recording(con, part: str, as_of: date, scoped: bool) -> None:
    """What this reconciliation of ``part`` recomputed on ``as_of`` (the entries of ops.recon_scope, or NULL for all),
    for `record_entry_exceptions`."""
    queue = _unrecorded(part)
    if not table_exists(con, queue):
        con.execute(f"CREATE TABLE {queue} (as_of_date DATE NOT NULL, time_entry_id BIGINT)")
    if scoped:
        con.execute(f"INSERT INTO {queue} SELECT ?, time_entry_id FROM ops.recon_scope WHERE recompute", [as_of])
    else:
        con.execute(f"INSERT INTO {queue} VALUES (?, NULL)", [as_of])


def record_entry_exceptions(con, as_of: date, now) -> str:
    """ops.exceptions for the entries the legal entities reconciled on ``as_of`` since the last recording: every
    open exception of an entry among them that is no longer flagged is resolved (all of them, when an entity
    recomputed its date whole). Only the newest as-of date written updates ops.exceptions. Returns what it did."""
    parts = [entity_table("recon.time_to_bill", e) for e in entity_parts(con, "recon.time_to_bill")]
    queues = [_unrecorded(p) for p in parts if table_exists(con, _unrecorded(p))]
    if not queues:
        return "nothing reconciled"
    pending = " UNION ALL ".join(f"SELECT time_entry_id FROM {q} WHERE as_of_date = $d" for q in queues)
    [(count, whole)] = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE time_entry_id IS NULL) > 0 FROM ({pending})", {"d": as_of}
    ).fetchall()
    if not count:
        said = "nothing reconciled since the last recording"
    elif not all(is_latest_as_of(con, p, as_of) for p in parts):
        said = "a later as-of date is reconciled: its exceptions stand"
    else:
        if not whole:
            scoped_to(con, f"SELECT DISTINCT time_entry_id, TRUE FROM ({pending})", {"d": as_of})
        record_exceptions_from(
            con,
            "recon",
            "recon",
            "time_to_bill",
            sql_text("recon/exceptions/time_to_bill"),
            {"as_of": as_of, "scoped": not whole},
            now,
            resolve_others=True,
            within=None if whole else "SELECT CAST(time_entry_id AS VARCHAR) FROM ops.recon_scope WHERE recompute",
        )
        scoped_to(con, None)  # emptied: the scope lives within this run
        said = "every entry" if whole else f"{count:,} entries reconciled since the last recording"
    for q in queues:
        con.execute(f"DELETE FROM {q} WHERE as_of_date <= ?", [as_of])
    return said


TIME_TO_BILL_EXCEPTIONS = dg.AssetKey(["recon", "time_to_bill_exceptions"])


@dg.asset(
    key=TIME_TO_BILL_EXCEPTIONS,
    group_name="recon",
    pool=writer_pool(TIME_TO_BILL_EXCEPTIONS),
    partitions_def=as_of_partitions,
    deps=[TIME_TO_BILL],
    owners=[TEAM["finance"]],
    kinds={"duckdb", "sql"},
    tags={"layer": "recon"},
    description="The findings of `recon.time_to_bill` in `ops.exceptions`, once the legal entities of the date have "
    "reconciled: one open exception per entry somebody must act on (its status and reason, amount at risk, "
    "owner), resolved when the entry no longer is; only the entries the entities recomputed are looked at. One "
    "step for every entity, so that entities reconciling side by side never rewrite ops.exceptions at once. "
    "SQL: `sql/recon/exceptions/time_to_bill.sql`.",
)
def time_to_bill_exceptions(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    as_of = as_of_of(context)
    with warehouse.connect() as con:
        con.begin()
        said = record_entry_exceptions(con, as_of, now_utc())
        [(open_count,)] = con.execute(
            "SELECT count(*) FROM ops.exceptions WHERE layer = 'recon' AND object = 'time_to_bill' "
            "AND resolved_at IS NULL"
        ).fetchall()
        con.commit()
    return dg.MaterializeResult(metadata={"as_of": as_of.isoformat(), "recorded": said, "open": open_count})


def scoped_to(con, entries_sql: str | None, params: dict | None = None) -> None:
    """Empty ops.recon_scope, then fill it with the entries a query yields (time_entry_id, recompute), if any."""
    con.execute("DELETE FROM ops.recon_scope")
    if entries_sql:
        con.execute(f"INSERT INTO ops.recon_scope {entries_sql}", params or {})


def ensure_firm_views(con, as_of: date, settings: PssyncSettings) -> None:
    """The firm-wide names of the tables split by legal entity (recon's, then the marts'), typed and empty, where no
    entity has written a part yet: on a first date no legal entity settles (no project names one), the firm view
    reads empty tables rather than missing ones. The caller holds the transaction."""
    params = {**params_for(as_of, settings), "legal_entities": [], "scoped": False}
    for table in SPLIT:  # the caps' consumption first: time to bill reads it
        if not table_exists(con, table):
            write_by_entity(con, table, sql_text(table.replace(".", "/")), params, as_of, [])
    ensure_entity_mart_views(con, as_of, settings)
