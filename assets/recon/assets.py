"""Recon assets, one partition per as-of date: time to bill, unmatched billing lines, contractor hours."""

from datetime import date, timedelta

import dagster as dg

from assets.common import (
    TEAM,
    is_latest_as_of,
    now_utc,
    rewrite_partition_within,
    write_as_of,
    write_partition,
    writer_pool,
)
from assets.recon import incremental
from assets.ops.exceptions import record_exceptions_from
from assets import published_columns
from assets.dependencies import deps_of
from assets.partitions import as_of_partitions
from resources import Warehouse
from resources.warehouse import bound_params, sql_text
from resources.settings import PssyncSettings
from assets.billing.release import free_rejected_keys

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


def _status_table(con, as_of: date) -> tuple[dict[str, int], str]:
    """Entries per status, and a table of them per status and reason with the amount at risk."""
    rows = con.execute(
        """
        SELECT recon_status, coalesce(reason, ''), count(*), sum(amount_at_risk_reporting)
        FROM recon.time_to_bill WHERE as_of_date = ? GROUP BY 1, 2 ORDER BY 1, 2""",
        [as_of],
    ).fetchall()
    counts: dict[str, int] = {}
    for s, _, n, _ in rows:
        counts[s] = counts.get(s, 0) + n
    lines = ["| status | reason | entries | amount at risk (reporting) |", "|---|---|---:|---:|"]
    lines += [f"| {s} | {r} | {n:,} | {a or 0:,.2f} |" for s, r, n, a in rows]
    return counts, "\n".join(lines)


def _top_exceptions(con, as_of: date) -> str:
    rows = con.execute(
        """
        SELECT time_entry_id, recon_status, coalesce(reason, ''), owner, project_code, amount_at_risk, currency
        FROM recon.time_to_bill WHERE as_of_date = ? AND owner IS NOT NULL
        ORDER BY amount_at_risk_reporting DESC NULLS LAST, time_entry_id LIMIT 10""",
        [as_of],
    ).fetchall()
    lines = ["| entry | status | reason | owner | project | at risk |", "|---:|---|---|---|---|---:|"]
    lines += [f"| {e} | {s} | {r} | {o} | {p} | {a or 0:,.2f} {c} |" for e, s, r, o, p, a, c in rows]
    return "\n".join(lines)


@dg.asset(
    key=TIME_TO_BILL,
    group_name="recon",
    pool=writer_pool(TIME_TO_BILL),
    partitions_def=as_of_partitions,
    deps=deps_of("recon/time_to_bill", itself=TIME_TO_BILL),
    owners=[TEAM["finance"]],
    kinds={"duckdb", "sql"},
    tags={"layer": "recon"},
    description="`recon.time_to_bill`: one row per time entry in scope as of the partition date (every "
    "live-approved entry, plus every entry with a billed line), with expected and billed values, the "
    "recon_status (first matching rule, see docs/recon.md), reason, owner, amount at risk and age. "
    "Replaying a date reproduces its rows. SQL: `sql/recon/time_to_bill.sql`.\n\n"
    "Fail closed: entries that `recon.billing_holds` holds and that would bill are INELIGIBLE / INPUT_HELD, and "
    "`billing_hold` names the input.",
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=2)),
    metadata={
        "dagster/column_schema": published_columns.schema(published_columns.TIME_TO_BILL),
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
    as_of = as_of_of(context)
    now = now_utc()
    params = params_for(as_of, settings)
    with warehouse.connect() as con:
        free_rejected_keys(con, settings.workflow, context.log)  # entries of rejected batches are unbilled again
        con.begin()
        scope = incremental.plan(con, as_of, params) if settings.recon_incremental else incremental.OFF
        if not scope.full:
            _scoped_to(con, "SELECT time_entry_id, recompute FROM _recon_entries")
        params["scoped"] = not scope.full
        within = None if scope.full else "SELECT time_entry_id FROM ops.recon_scope WHERE recompute"
        keys_within = (
            None if scope.full else "SELECT CAST(time_entry_id AS VARCHAR) FROM ops.recon_scope WHERE recompute"
        )
        write_as_of(con, "recon.cap_usage", "recon/cap_usage", params, within)  # the caps' consumption, read next
        rows = write_as_of(con, "recon.time_to_bill", "recon/time_to_bill", params, within)
        if is_latest_as_of(con, "recon.time_to_bill", as_of):
            record_exceptions_from(
                con,
                "recon",
                "recon",
                "time_to_bill",
                sql_text("recon/exceptions/time_to_bill"),
                {"as_of": as_of, "scoped": params["scoped"]},
                now,
                resolve_others=True,
                within=keys_within,
            )
        _scoped_to(con, None)  # emptied: the scope lives within this run
        incremental.remember(con, as_of, params, scope=scope)
        holds = [
            h
            for (h,) in con.execute(
                "SELECT hold FROM recon.billing_holds WHERE as_of_date = ? ORDER BY 1", [as_of]
            ).fetchall()
        ]
        (counts, status_md), top_md = _status_table(con, as_of), _top_exceptions(con, as_of)
        problems = _input_problems(con, as_of)
        con.commit()
    context.log.info(f"recon.time_to_bill {as_of}: recomputed the {scope.describe()}")
    for hold in holds[:20]:
        context.log.warning(hold)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "as_of": as_of.isoformat(),
            "recomputed": scope.describe(),
            "recomputed_entries": rows if scope.full else scope.entries,
            "by_status": counts,
            "billing_holds": len(holds),
            "billing_held_for": holds[:50] or ["nothing held"],
            "status_summary": dg.MetadataValue.md(status_md),
            "top_exceptions": dg.MetadataValue.md(top_md),
        }
    )
    yield dg.AssetCheckResult(
        check_name="inputs_fit_for_billing",
        asset_key=TIME_TO_BILL,
        passed=not problems,
        metadata={"problems": problems or ["none"]},
        description="; ".join(problems) or "inputs complete",
    )


def _scoped_to(con, entries_sql: str | None, params: dict | None = None) -> None:
    """Empty ops.recon_scope, then fill it with the entries a query yields (time_entry_id, recompute), if any."""
    con.execute("DELETE FROM ops.recon_scope")
    if entries_sql:
        con.execute(f"INSERT INTO ops.recon_scope {entries_sql}", params or {})


def _write_billing_line_exceptions(con, as_of: date, settings: PssyncSettings) -> tuple[int, str]:
    """A rerun after new versions of some entries rewrites only the lines carrying them (an unmatched line depends
    on its own entry alone); anything else rewrites the date."""
    params = params_for(as_of, settings)
    kept = incremental.BILLING_LINE_EXCEPTIONS
    scope = incremental.plan_entries(con, kept, as_of, params) if settings.recon_incremental else incremental.OFF
    if scope.full:
        rows = write_partition(con, kept.table, "recon/billing_line_exceptions", params)
    else:
        _scoped_to(con, "SELECT time_entry_id, recompute FROM _recon_entries")
        rows = rewrite_partition_within(
            con,
            kept.table,
            "recon/billing_line_exceptions",
            {**params, "scoped": True},
            "psa_time_entry_id",
            "SELECT time_entry_id FROM ops.recon_scope",
        )
        _scoped_to(con, None)  # emptied: the scope lives within this run
    incremental.remember(con, as_of, params, kept, scope)
    return rows, scope.describe()


def _write_contractor_hours(con, as_of: date, settings: PssyncSettings) -> tuple[int, str]:
    """Reads only the entries of the (worker, closed pay period) pairs it computes (sql/recon/contractor_scope.sql:
    any entry any version of which one of the worker's resources worked in the period). A rerun after new versions
    of some entries rewrites only the pairs they fall in; anything else rewrites the date."""
    params = params_for(as_of, settings)
    kept = incremental.CONTRACTOR_HOURS
    scope = incremental.plan_entries(con, kept, as_of, params) if settings.recon_incremental else incremental.OFF
    partial = not scope.full
    # the entries that arrived, whose (worker, period) rows are recomputed (none: every pair's)
    _scoped_to(con, "SELECT time_entry_id, recompute FROM _recon_entries" if partial else None)
    pairs = sql_text("recon/contractor_scope")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _contractor_scope AS {pairs}",
        bound_params(pairs, {**params, "partial": partial}),
    )
    con.execute(
        "MERGE INTO ops.recon_scope AS t USING (SELECT DISTINCT h.time_entry_id, FALSE AS recompute "
        "FROM canonical.time_entry_history AS h JOIN _contractor_scope AS c "
        "ON h.resource_id = c.resource_id AND h.work_date BETWEEN c.start_date AND c.end_date) AS s "
        "ON t.time_entry_id = s.time_entry_id WHEN NOT MATCHED THEN INSERT BY NAME"
    )
    query_params = {**params, "scoped": True}
    if partial:
        within = "SELECT employee_id, period_id FROM _contractor_scope"
        rows = rewrite_partition_within(
            con, kept.table, "recon/contractor_hours", query_params, ("employee_id", "period_id"), within
        )
    else:
        rows = write_partition(con, kept.table, "recon/contractor_hours", query_params)
    con.execute("DROP TABLE _contractor_scope")
    _scoped_to(con, None)  # emptied: the scope lives within this run
    incremental.remember(con, as_of, params, kept, scope)
    return rows, scope.describe()


def _write_billing_holds(con, as_of: date, settings: PssyncSettings) -> tuple[int, str]:
    """The holds of a date depend on every faulty input in force: the date is rewritten whole (the holds are few)."""
    return write_partition(con, "recon.billing_holds", "recon/billing_holds", {"as_of": as_of}), "whole date"


WRITERS = {
    "billing_holds": _write_billing_holds,
    "billing_line_exceptions": _write_billing_line_exceptions,
    "contractor_hours": _write_contractor_hours,
}


def _simple_recon_asset(name: str, description: str, owner: str, also: tuple[str, ...] = ()):
    @dg.asset(
        key=dg.AssetKey(["recon", name]),
        group_name="recon",
        pool=writer_pool(dg.AssetKey(["recon", name])),
        partitions_def=as_of_partitions,
        deps=deps_of(f"recon/{name}", also=also),
        owners=[TEAM[owner]],
        kinds={"duckdb", "sql"},
        tags={"layer": "recon"},
        description=f"{description} SQL: `sql/recon/{name}.sql`.",
    )
    def recon_table(
        context: dg.AssetExecutionContext, warehouse: Warehouse, settings: PssyncSettings
    ) -> dg.MaterializeResult:
        as_of = as_of_of(context)
        now = now_utc()
        with warehouse.connect() as con:
            con.begin()
            rows, recomputed = WRITERS[name](con, as_of, settings)
            flagged = con.execute(
                f"SELECT count(*) FROM recon.{name} WHERE as_of_date = ? AND owner IS NOT NULL", [as_of]
            ).fetchall()[0][0]
            if is_latest_as_of(con, f"recon.{name}", as_of):
                record_exceptions_from(
                    con,
                    "recon",
                    "recon",
                    name,
                    sql_text(f"recon/exceptions/{name}"),
                    {"as_of": as_of},
                    now,
                    resolve_others=True,
                )
            con.commit()
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "flagged": flagged,
                "as_of": as_of.isoformat(),
                "recomputed": recomputed,
            }
        )

    return recon_table


billing_holds = _simple_recon_asset(
    "billing_holds",
    "`recon.billing_holds`: fail closed. Every rejected or quarantined input in force on the date that can change "
    "what is billed, at which rate or for which customer, with the scope it holds (a customer, contract, project, "
    "entry, or the whole date), owned by the input's team. Recon marks the entries there INELIGIBLE / INPUT_HELD "
    "and billing emits nothing in a held scope; a hold ends when its input is fixed.",
    "finance",
    also=FAULT_INPUTS,
)
billing_line_exceptions = _simple_recon_asset(
    "billing_line_exceptions",
    "`recon.billing_line_exceptions`: lines of non-Voided invoices the PSA cannot match (ORPHAN_BILLING_LINE, "
    "UNKNOWN_PROJECT), owned by finance.",
    "finance",
)
contractor_hours = _simple_recon_asset(
    "contractor_hours",
    "`recon.contractor_hours`: per closed pay period and contingent worker, hours paid against live-approved PSA "
    "hours, the difference, and the LATE_APPROVAL count (entries approved after the lock date).",
    "hr",
)

recon_assets = [billing_holds, time_to_bill, billing_line_exceptions, contractor_hours]
