"""Recon's tables beside the time-to-bill reconciliation: invoice lines that match no PSA work
(`recon.billing_line_exceptions`), contractor hours paid against hours approved (`recon.contractor_hours`), and
the billing holds on faulty inputs (`recon.billing_holds`). One asset each, written per as-of date."""

from datetime import date

import dagster as dg

from assets.billing.emit import billable_entities
from assets.common import (
    TEAM,
    is_latest_as_of,
    now_utc,
    rewrite_partition_within,
    write_partition,
    writer_pool,
)
from assets.dependencies import deps_of
from assets.ops.exceptions import record_exceptions_from
from assets.partitions import as_of_partitions
from assets.recon import incremental
from assets.recon.assets import FAULT_INPUTS, as_of_of, ensure_firm_views, params_for, scoped_to
from assets.recon.kept import BILLING_LINE_EXCEPTIONS, CONTRACTOR_HOURS, OFF
from resources import Warehouse
from resources.columns import column_schema
from resources.settings import PssyncSettings
from resources.warehouse import bound_params, sql_text


def _write_billing_line_exceptions(con, as_of: date, settings: PssyncSettings) -> tuple[int, str]:
    """A rerun after new versions of some entries rewrites only the lines carrying them (an unmatched line depends
    on its own entry alone); anything else rewrites the date."""
    params = params_for(as_of, settings)
    kept = BILLING_LINE_EXCEPTIONS
    scope = incremental.plan_entries(con, kept, as_of, params) if settings.recon_incremental else OFF
    if scope.full:
        rows = write_partition(con, kept.table, "recon/billing_line_exceptions", params)
    else:
        scoped_to(con, "SELECT time_entry_id, recompute FROM _recon_entries")
        rows = rewrite_partition_within(
            con,
            kept.table,
            "recon/billing_line_exceptions",
            {**params, "scoped": True},
            "psa_time_entry_id",
            "SELECT time_entry_id FROM ops.recon_scope",
        )
        scoped_to(con, None)  # emptied: the scope lives within this run
    incremental.remember(con, as_of, params, kept, scope)
    return rows, scope.describe()


def _write_contractor_hours(con, as_of: date, settings: PssyncSettings) -> tuple[int, str]:
    """Reads only the entries of the (worker, closed pay period) pairs it computes (sql/recon/contractor_scope.sql:
    any entry any version of which one of the worker's resources worked in the period). A rerun after new versions
    of some entries rewrites only the pairs they fall in; anything else rewrites the date."""
    params = params_for(as_of, settings)
    kept = CONTRACTOR_HOURS
    scope = incremental.plan_entries(con, kept, as_of, params) if settings.recon_incremental else OFF
    partial = not scope.full
    # the entries that arrived, whose (worker, period) rows are recomputed (none: every pair's)
    scoped_to(con, "SELECT time_entry_id, recompute FROM _recon_entries" if partial else None)
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
    scoped_to(con, None)  # emptied: the scope lives within this run
    incremental.remember(con, as_of, params, kept, scope)
    return rows, scope.describe()


def _write_billing_holds(con, as_of: date, settings: PssyncSettings) -> tuple[int, str]:
    """The holds of a date depend on every faulty input in force: the date is rewritten whole (the holds are few).
    The last date-wide step before the legal entities settle: on a date no entity settles, it also gives the
    tables split by entity their firm-wide names where no entity has written yet (`ensure_firm_views`)."""
    rows = write_partition(con, "recon.billing_holds", "recon/billing_holds", {"as_of": as_of})
    if not billable_entities(con, as_of):  # else the entities' runs write them, and their firm-wide views
        ensure_firm_views(con, as_of, settings)
    return rows, "whole date"


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
        metadata={"dagster/column_schema": column_schema(f"recon/{name}"), "dagster/table_name": f"recon.{name}"},
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
    "and billing emits nothing in a held scope; a hold ends when its input is fixed. The last date-wide step before "
    "the legal entities settle: on a date no entity settles, it gives the tables split by entity that no entity has "
    "written yet their firm-wide names, empty, so that the firm view still builds.",
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
