"""The usual alternative, for comparison: the recon and utilization logic as an analyst would write it in
plain pandas (floats for money, merges and groupbys), and datacompy's polars comparison of approved
entries against billed lines. Both read the same canonical tables as the pipeline."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd


def _load(con, sql: str) -> pd.DataFrame:
    return con.sql(sql).df()


def run(warehouse: Path, as_of: date) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    t0 = time.perf_counter()
    end = pd.Timestamp(as_of + timedelta(days=1))
    te = _load(
        con,
        "SELECT time_entry_id, revision, resource_id, project_id, work_date, time_in_minutes, billable, "
        "status, approved_at, deleted_at, updated_at FROM canonical.time_entry_history",
    )
    lines = _load(
        con,
        "SELECT invoice_id, line, item, quantity, rate, amount, psa_time_entry_id, file_date "
        "FROM canonical.invoice_line_history",
    )
    inv = _load(con, "SELECT invoice_id, invoice_date, status, last_modified, file_date FROM canonical.invoice_history")
    proj = _load(
        con,
        "SELECT project_id, project_code, billing_type, status, crm_account_id, crm_contract_id, currency, "
        "updated_at FROM canonical.project_history",
    )
    res = _load(con, "SELECT resource_id, hr_employee_id, role, region, updated_at FROM canonical.resource_history")
    emp = _load(
        con,
        "SELECT employee_id, hire_date, termination_date, valid_from, scheduled_weekly_hours, country "
        "FROM canonical.employee_history",
    )
    asg = _load(
        con,
        "SELECT assignment_id, project_id, resource_id, role, start_date, end_date, updated_at "
        "FROM canonical.assignment_history",
    )
    con_v = _load(con, "SELECT * FROM canonical.contract_version_asof(DATE '9999-12-30')")
    cards = _load(
        con,
        "SELECT rate_card_id, role, region, currency, hourly_rate, effective_from, effective_to, snapshot_date "
        "FROM canonical.rate_card_history",
    )
    clients = _load(con, "SELECT crm_account_id, erp_customer_id FROM canonical.client")
    t_load = time.perf_counter() - t0
    con.close()

    t1 = time.perf_counter()
    te = (
        te[te.updated_at < end]
        .sort_values(["time_entry_id", "revision", "updated_at"])
        .drop_duplicates("time_entry_id", keep="last")
    )
    te["live"] = (te.status == "approved") & te.deleted_at.isna()
    te["quantity"] = (te.time_in_minutes / 60).round(2)
    inv = inv[(inv.file_date <= pd.Timestamp(as_of)) & (inv.last_modified < end)]
    inv = inv.sort_values(["invoice_id", "last_modified"]).drop_duplicates("invoice_id", keep="last")
    lines = lines[lines.file_date <= pd.Timestamp(as_of)]
    last_file = lines.groupby("invoice_id").file_date.transform("max")
    lines = lines[lines.file_date == last_file].merge(
        inv[inv.status != "Voided"][["invoice_id", "invoice_date"]], on="invoice_id"
    )
    lines = lines[lines.item.isin(["PS-TM-HOURS", "PS-ADJUSTMENT"]) & lines.psa_time_entry_id.notna()].copy()
    lines["quantity"] = lines.quantity.astype(float)
    lines["rate"] = lines.rate.astype(float)
    tm = lines[lines.item == "PS-TM-HOURS"].sort_values(["invoice_date", "line"])
    billed = (
        lines.groupby("psa_time_entry_id")
        .agg(n=("line", "size"), qty=("quantity", "sum"))
        .join(tm.groupby("psa_time_entry_id").agg(tm_n=("line", "size"), billed_rate=("rate", "first")))
    )
    df = te.merge(billed, left_on="time_entry_id", right_index=True, how="left")
    df = df[df.live | df.n.notna()]
    latest = lambda f, k: f.sort_values([k, "updated_at"]).drop_duplicates(k, keep="last")  # noqa: E731
    df = df.merge(latest(proj, "project_id"), on="project_id", suffixes=("", "_p"))
    df = df.merge(latest(res, "resource_id"), on="resource_id", suffixes=("", "_r"))
    emp_last = emp.sort_values("valid_from").drop_duplicates("employee_id", keep="last")
    df = df.merge(emp_last, left_on="hr_employee_id", right_on="employee_id", how="left")
    a = latest(asg, "assignment_id").merge(
        df[["time_entry_id", "resource_id", "project_id", "work_date"]], on=["resource_id", "project_id"]
    )
    a = (
        a[(a.work_date >= a.start_date) & (a.work_date <= a.end_date)]
        .sort_values("assignment_id")
        .drop_duplicates("time_entry_id", keep="last")
    )
    df = df.merge(a[["time_entry_id", "role"]].rename(columns={"role": "asg_role"}), on="time_entry_id", how="left")
    df["role_eff"] = df.asg_role.fillna(df.role)
    roots = con_v[~con_v.is_amendment]
    amends = con_v[con_v.is_amendment & (con_v.status == "Activated")].sort_values("start_date")
    df = df.merge(
        roots[
            ["contract_id", "status", "start_date", "end_date", "rate_card_id", "discount_percent", "currency"]
        ].rename(columns=lambda c: f"root_{c}"),
        left_on="crm_contract_id",
        right_on="root_contract_id",
        how="left",
    )
    df = df.sort_values("work_date")
    df["work_ts"] = pd.to_datetime(df.work_date)
    am = amends[["root_contract_id", "start_date", "rate_card_id", "discount_percent"]].copy()
    am["start_ts"] = pd.to_datetime(am.start_date)
    df = pd.merge_asof(
        df,
        am.rename(columns={"rate_card_id": "am_card", "discount_percent": "am_disc"}).sort_values("start_ts"),
        left_on="work_ts",
        right_on="start_ts",
        left_by="crm_contract_id",
        right_by="root_contract_id",
        direction="backward",
        suffixes=("", "_am"),
    )
    root_ok = (
        (df.root_status == "Activated") & (df.work_date >= df.root_start_date) & (df.work_date <= df.root_end_date)
    )
    df["card"] = np.where(df.am_card.notna(), df.am_card, np.where(root_ok, df.root_rate_card_id, None))
    df["disc"] = np.where(df.am_card.notna(), df.am_disc, np.where(root_ok, df.root_discount_percent, np.nan)).astype(
        float
    )
    snap = cards[cards.snapshot_date <= pd.Timestamp(as_of)].snapshot_date.max()
    c = cards.loc[
        cards.snapshot_date == snap,
        ["rate_card_id", "role", "region", "currency", "hourly_rate", "effective_from", "effective_to"],
    ]
    # only what the rules below read: at L the frame is 9 M rows, and the card merge below duplicates rows
    df = df[
        [
            "time_entry_id",
            "work_date",
            "quantity",
            "live",
            "billable",
            "n",
            "qty",
            "tm_n",
            "billed_rate",
            "billing_type",
            "status_p",
            "employee_id",
            "hire_date",
            "termination_date",
            "card",
            "disc",
            "role_eff",
            "region",
            "root_currency",
            "crm_account_id",
        ]
    ]
    df = df.merge(
        c,
        left_on=["card", "role_eff", "region", "root_currency"],
        right_on=["rate_card_id", "role", "region", "currency"],
        how="left",
        suffixes=("", "_c"),
    )
    ok = (df.work_date >= df.effective_from) & (df.effective_to.isna() | (df.work_date <= df.effective_to))
    df = (
        df[ok | df.effective_from.isna()]
        .sort_values(["time_entry_id", "effective_from"])
        .drop_duplicates("time_entry_id", keep="last")
    )
    df["expected_rate"] = (df.hourly_rate.astype(float) * (1 - df.disc / 100)).round(4).where(ok)
    clients_map = dict(zip(clients.crm_account_id, clients.erp_customer_id))
    df["customer"] = df.crm_account_id.map(clients_map)
    billed_any = df.n.fillna(0) > 0
    not_billable = ~df.billable | (df.billing_type != "tm")
    reason = np.select(
        [
            df.employee_id.isna(),
            (df.work_date < df.hire_date) | (df.work_date > df.termination_date),
            df.status_p == "on_hold",
            df.status_p == "closed",
            df.card.isna(),
            df.customer.isna(),
            df.expected_rate.isna(),
        ],
        [
            "UNMAPPED_EMPLOYEE",
            "OUTSIDE_EMPLOYMENT",
            "PROJECT_ON_HOLD",
            "PROJECT_CLOSED",
            "NO_ACTIVE_CONTRACT",
            "UNMAPPED_CUSTOMER",
            "MISSING_RATE",
        ],
        default="",
    )
    df["recon_status"] = np.select(
        [
            billed_any & ~df.live,
            billed_any & not_billable,
            df.tm_n.fillna(0) > 1,
            billed_any & ((df.qty - df.quantity).abs() > 0.005),
            billed_any & (df.expected_rate.isna() | ((df.billed_rate - df.expected_rate).abs() > 0.005)),
            billed_any,
            ~df.billable | (df.billing_type == "non_billable"),
            df.billing_type == "fixed_fee",
            reason != "",
        ],
        [
            "NOT_APPROVED_BILLED",
            "NOT_BILLABLE_BILLED",
            "DUPLICATE_BILLED",
            "HOURS_MISMATCH",
            "RATE_MISMATCH",
            "BILLED_OK",
            "NON_BILLABLE",
            "FIXED_FEE",
            "INELIGIBLE",
        ],
        default="UNBILLED",
    )
    t_recon = time.perf_counter() - t1

    t2 = time.perf_counter()
    days = pd.date_range(emp.valid_from.min(), as_of, freq="D")
    days = days[days.dayofweek < 5]
    e = emp_last[["employee_id", "hire_date", "termination_date", "scheduled_weekly_hours"]].copy()
    grid = e.merge(pd.DataFrame({"day": days}), how="cross")
    grid = grid[
        (grid.day >= pd.to_datetime(grid.hire_date))
        & (grid.termination_date.isna() | (grid.day <= pd.to_datetime(grid.termination_date)))
    ]
    grid["week"] = grid.day - pd.to_timedelta(grid.day.dt.dayofweek, unit="D")
    cap = grid.groupby(["employee_id", "week"]).scheduled_weekly_hours.sum().astype(float) / 5
    hours = te[te.live].merge(latest(res, "resource_id")[["resource_id", "hr_employee_id"]], on="resource_id")
    hours["week"] = pd.to_datetime(hours.work_date) - pd.to_timedelta(
        pd.to_datetime(hours.work_date).dt.dayofweek, unit="D"
    )
    h = hours.groupby(["hr_employee_id", "week", "billable"]).time_in_minutes.sum().unstack(fill_value=0) / 60
    h.index = h.index.set_names(["employee_id", "week"])
    h.columns = [f"billable_{c}" for c in h.columns]
    util = pd.DataFrame({"capacity": cap}).join(h, how="outer")
    util["available"] = util.capacity.fillna(0)
    util["billable_utilization"] = util.get("billable_True", 0) / util.available.where(util.available > 0)
    t_util = time.perf_counter() - t2
    return {
        "load": round(t_load, 2),
        "recon": round(t_recon, 2),
        "utilization": round(t_util, 2),
        "total": round(t_load + t_recon + t_util, 2),
        "recon_rows": len(df),
        "utilization_rows": len(util),
        "status_counts": df.recon_status.value_counts().to_dict(),
    }


def datacompy_compare(warehouse: Path, as_of: date) -> dict:
    """datacompy's polars comparison of approved entries against billed lines on time_entry_id (quantity, rate)."""
    import datacompy

    con = duckdb.connect(str(warehouse), read_only=True)
    t0 = time.perf_counter()
    entries = con.sql(f"""SELECT time_entry_id, quantity, expected_rate AS rate FROM recon.time_to_bill
                          WHERE as_of_date = DATE '{as_of}' AND entry_status = 'approved'""").pl()
    billed = con.sql(f"""SELECT time_entry_id, billed_quantity AS quantity, billed_rate AS rate FROM recon.time_to_bill
                         WHERE as_of_date = DATE '{as_of}' AND billed_line_count > 0""").pl()
    con.close()
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    cmp = datacompy.PolarsCompare(entries, billed, join_columns="time_entry_id", abs_tol=0.005)
    mismatched = cmp.count_matching_rows()
    return {
        "load": round(t_load, 2),
        "compare": round(time.perf_counter() - t1, 2),
        "rows_compared": int(entries.height),
        "matching_rows": int(mismatched),
    }
