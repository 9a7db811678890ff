"""Expectation suites over the published marts and billing batches: ranges, grain, sane bounds, tie-outs."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import duckdb

from resources.columns import documented, table_doc

if TYPE_CHECKING:
    from great_expectations import expectations as E


def _expectations():
    """GX's expectation classes, imported when a suite is first built: importing GX takes 2-3 s, which every process
    that loads the jobs paid before, `pssync --help` and the workbench included."""
    from great_expectations import expectations

    return expectations


def _exact_sum(column: str, value: float) -> E.ExpectColumnSumToBeBetween:
    return _expectations().ExpectColumnSumToBeBetween(column=column, min_value=value - 0.005, max_value=value + 0.005)


def suite_for(name: str, con: duckdb.DuckDBPyConnection, as_of: date, entities: list[str] | None = None) -> list:
    """The expectations of one published table; tie-outs are computed from recon and billing (over the rows of legal
    entities ``entities`` when the table is checked entity by entity)."""
    E = _expectations()
    scope = "" if entities is None else " AND list_contains(?, legal_entity)"
    within = [as_of] if entities is None else [as_of, entities]
    if name == "utilization_weekly":
        return [
            E.ExpectCompoundColumnsToBeUnique(column_list=["employee_id", "week_start"]),
            E.ExpectColumnValuesToBeBetween(column="capacity_hours", min_value=0, max_value=80),
            E.ExpectColumnValuesToBeBetween(column="available_hours", min_value=0, max_value=80),
            # sane bounds for almost every week: a few exceptions (work logged after a termination) are real
            E.ExpectColumnValuesToBeBetween(column="billable_utilization", min_value=0, max_value=1.5, mostly=0.99),
            E.ExpectColumnValuesToBeBetween(column="total_utilization", min_value=0, max_value=1.5, mostly=0.99),
        ]
    if name == "realization_monthly":
        standard = con.execute(
            """SELECT coalesce(sum(CASE WHEN billable AND standard_rate IS NOT NULL
                                  THEN round(quantity * standard_rate, 2) END), 0)
                                  FROM recon.time_to_bill WHERE as_of_date = ? AND (entry_status = 'approved'
                                  OR billed_line_count > 0)"""
            + scope,
            within,
        ).fetchall()[0][0]
        return [
            E.ExpectCompoundColumnsToBeUnique(column_list=["project_code", "month"]),
            E.ExpectColumnValuesToBeBetween(column="billed_value", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="standard_value", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="realization", min_value=0, max_value=1.5, mostly=0.9),
            _exact_sum("standard_value", float(standard)),
        ]
    if name == "project_margin":
        return [
            E.ExpectCompoundColumnsToBeUnique(column_list=["project_code", "month"]),
            E.ExpectColumnValuesToBeBetween(column="labor_cost", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
        ]
    if name == "unbilled_wip":
        recon = con.execute(
            """SELECT coalesce(sum(wip_value(expected_amount, quantity, standard_rate)), 0)
               FROM recon.time_to_bill WHERE as_of_date = ? AND is_wip(recon_status)"""
            + scope,
            within,
        ).fetchall()[0][0]
        return [
            E.ExpectColumnValuesToBeBetween(column="unbilled_value", min_value=0),
            _exact_sum("unbilled_value", float(recon)),
        ]
    if name == "invoice_cycle":
        return [
            E.ExpectColumnValuesToBeBetween(column="days_work_to_invoice", min_value=0, max_value=400),
            E.ExpectColumnValuesToBeBetween(column="days_to_paid", min_value=0, max_value=400),
        ]
    if name == "backlog":
        return [
            E.ExpectColumnValuesToBeBetween(column="nte_hours", min_value=0),
        ]
    if name == "staffing_forecast":
        return [
            E.ExpectCompoundColumnsToBeUnique(column_list=["month", "role", "region"]),
            E.ExpectColumnValuesToBeBetween(column="demand_hours", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="capacity_hours", min_value=0),
        ]
    if name == "batches":
        lines = con.execute(
            "SELECT coalesce(sum(amount), 0), count(*) FROM billing.batch_lines WHERE as_of_date = ?", [as_of]
        ).fetchall()[0]
        return [
            E.ExpectColumnValuesToBeBetween(column="line_count", min_value=1),
            _exact_sum("net_amount", float(lines[0])),
            _exact_sum("line_count", float(lines[1])),
        ]
    raise KeyError(name)


def from_columns(sql_name: str) -> list:
    """What the table's columns file says of each column: never empty (``not_null``), unique on a date (``unique``)."""
    E = _expectations()
    if sql_name not in documented():
        return []
    columns = table_doc(sql_name).columns
    return [E.ExpectColumnValuesToNotBeNull(column=c.name) for c in columns if c.not_null] + [
        E.ExpectColumnValuesToBeUnique(column=c.name) for c in columns if c.unique
    ]


def validate_mart(
    con: duckdb.DuckDBPyConnection, quality, schema: str, name: str, as_of: date, entities: list[str] | None = None
):
    """Run the suite of one published table for one as-of date (only legal entities ``entities``' rows of a table
    written entity by entity, which other entities may be writing meanwhile); returns the outcome."""
    if entities is None:
        frame = con.execute(f"SELECT * FROM {schema}.{name} WHERE as_of_date = $d", {"d": as_of}).df()
    else:
        frame = con.execute(
            f"SELECT * FROM {schema}.{name} WHERE as_of_date = $d AND list_contains($e, legal_entity)",
            {"d": as_of, "e": entities},
        ).df()
    for col in frame.columns:  # decimals to floats for GX's range checks
        if (
            frame[col].dtype == object
            and len(frame)
            and frame[col].map(lambda v: v.__class__.__name__ == "Decimal").any()
        ):
            frame[col] = frame[col].astype(float)
    expectations = suite_for(name, con, as_of, entities) + from_columns(f"{schema}/{name}")
    return quality.run(f"{schema}_{name}", frame, expectations, as_of=as_of)
