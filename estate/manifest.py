"""The estate's ground truth: what each contract's entries should bill per month, and the manifest of every
injected anomaly and its expected outcome."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import polars as pl

from estate.anomalies import Injected
from estate.calendar import offsets_to_dates
from estate.jsonfmt import write_text
from estate.money import quantity_cents
from estate.pricing import classify_entries, month_slices, rate_entries
from estate.truth import flagged


def contract_totals(com, work, stats: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per root contract: the hours of all its entries, and what its entries have billed (taken from the projects,
    without pricing every entry)."""
    per_project = (  # summed per project first: the contract id is then joined to thousands of rows, not millions
        work.entries.select("time_entry_id", "project_id", "minutes")
        .join(stats.select("time_entry_id", "net_billed_cents"), on="time_entry_id", how="left")
        .group_by("project_id")
        .agg(
            total=quantity_cents(pl.col("minutes").cast(pl.Int64)).sum(),
            billed_cents=pl.col("net_billed_cents").fill_null(0).sum(),
        )
        .join(com.projects.select("project_id", contract_id="crm_contract_id"), on="project_id")
    )
    totals = per_project.group_by("contract_id").agg(pl.col("total").sum())
    used = per_project.group_by("contract_id").agg(pl.col("billed_cents").sum())
    return totals, used


def expected_by_month(cfg, people, com, work, stats, inj: Injected, caps, used) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The oracle a month at a time, in work-date order, each month's eligible hours carried against the caps of
    the next. Writes ``_truth/time_to_bill_expected.parquet``; returns what the manifest needs (the entries to
    flag, the status counts), so that the classification of every entry is never held whole."""
    out = cfg.landing / "_truth"
    out.mkdir(parents=True, exist_ok=True)
    carried = pl.DataFrame(schema={"contract_id": pl.Utf8, "carried_cents": pl.Int64})
    rows, flags, counts = [], [], []
    stat_ids = stats["time_entry_id"].to_numpy()  # in id order: each month's billing statistics are a slice
    for part in month_slices(cfg, work.entries):
        ids = part["time_entry_id"]
        lo = np.searchsorted(stat_ids, ids.min(), side="left") if part.height else 0
        hi = np.searchsorted(stat_ids, ids.max(), side="right") if part.height else 0
        month_stats = stats.slice(int(lo), int(hi - lo))
        c = classify_entries(people, com, rate_entries(cfg, people, com, part), month_stats, inj, caps, used, carried)
        counted = (  # what this month put against a cap: its eligible entries, within the cap or not
            c.filter(pl.col("status").is_in(["UNBILLED", "OVER_CAP"]))
            .join(caps.select("contract_id"), on="contract_id")
            .group_by("contract_id")
            .agg(carried_cents=pl.col("quantity_cents").sum())
        )
        carried = pl.concat([carried, counted]).group_by("contract_id").agg(pl.col("carried_cents").sum())
        rows.append(
            c.select(
                "time_entry_id",
                "revision",
                "status",
                "reason",
                "owner",
                "quantity_cents",
                "expected_rate_e4",
                "standard_rate_e4",
            )
        )
        flags.append(flagged(c).select("time_entry_id", "status", "reason", "owner"))
        counts.append(c.group_by("status", "reason").len())
    # a row group or more per month, not one copy of every entry's verdict made to write it
    pl.concat(rows, rechunk=False).write_parquet(out / "time_to_bill_expected.parquet", statistics=False)
    status_counts = (
        pl.concat(counts)
        .group_by("status", "reason")
        .agg(pl.col("len").sum())
        .sort("status", "reason", nulls_last=False)
    )
    return pl.concat(flags), status_counts


def manifest_of(cfg, people, com, work, billing, inj: Injected, expected: tuple, truth: dict, n_days: int) -> dict:
    out = cfg.landing / "_truth"
    flags, status_counts = expected
    injected_kind = {i: k for k, ids in inj.entries.items() for i in ids}
    entries = [
        {
            "time_entry_id": int(r["time_entry_id"]),
            "recon_status": r["status"],
            "reason": r["reason"],
            "owner": r["owner"],
            "injected": injected_kind.get(int(r["time_entry_id"])),
        }
        for r in flags.select("time_entry_id", "status", "reason", "owner").iter_rows(named=True)
    ]
    numbers = truth.pop("invoice_numbers")
    # only the invoices that carry an injected line exception (at L the lines are millions)
    lines = billing.lines.filter(pl.col("invoice_id").is_in([x["invoice_id"] for x in inj.line_exceptions]))
    line_exc = []
    for x in inj.line_exceptions:
        if x["kind"] == "ORPHAN_BILLING_LINE":
            row = lines.filter(
                (pl.col("invoice_id") == x["invoice_id"]) & (pl.col("source_id") == x["psa_time_entry_id"])
            )
        else:
            row = lines.filter(
                (pl.col("invoice_id") == x["invoice_id"]) & (pl.col("project_code") == x["project_code"])
            )
        line_exc.append(
            {
                "invoice_number": numbers[x["invoice_id"]],
                "line": int(row["line"][0]),
                "recon_status": x["kind"],
                "owner": "finance",
                "psa_time_entry_id": x.get("psa_time_entry_id"),
                "project_code": row["project_code"][0],
            }
        )
    ids = people.employee_ids()
    code_of = dict(zip(com.projects["project_id"].to_list(), com.projects["project_code"].to_list()))
    accounts = com.accounts
    manifest = {
        "estate": {
            "employees": cfg.employees,
            "months": cfg.months,
            "seed": cfg.seed,
            "anomaly_rate": cfg.anomaly_rate,
            "start_date": cfg.start_date.isoformat(),
            "end_date": cfg.end_date.isoformat(),
            "time_entries": work.entries.height,
            "projects": com.projects.height,
            "invoices": billing.invoices.height,
            "invoice_lines": billing.lines.height,
        },
        "as_of": cfg.end_date.isoformat(),
        "expected_status_counts": [
            {"recon_status": s, "reason": r, "count": int(c)} for s, r, c in status_counts.iter_rows()
        ],
        "injected_entry_defects": {k: len(v) for k, v in inj.entries.items()},
        "injected_projects": {k: v for k, v in inj.projects.items()},
        "skipped_invoice_runs": [  # a project's approved time an invoice run left out (unbilled WIP, aged)
            {
                "project_code": code_of[p],
                "invoice_run": (cfg.start_date + timedelta(days=int(billing.cycle_days[c]))).isoformat(),
            }
            for p, c in billing.skipped_runs.iter_rows()
        ],
        "time_entries": entries,
        "billing_line_exceptions": line_exc,
        "unmapped_employees": [
            {"resource_id": w + 1, "employee_id": ids[w], "hr_employee_id": inj.unknown_hr_ids.get(w)}
            for w in inj.unmapped_workers
        ],
        "outside_employment_workers": [
            {
                "resource_id": w + 1,
                "employee_id": ids[w],
                "termination_date": offsets_to_dates(np.array([n_days - 9]), cfg.start_date)[0].isoformat(),
            }
            for w in inj.outside_workers
        ],
        "unmapped_customers": [
            {"crm_account_id": accounts["Id"][a], "erp_customer_id": int(accounts["customer_internal_id"][a])}
            for a in inj.unmapped_accounts
        ],
        "nte_caps": [{"contract_id": cid, "kind": tag} for cid, tag in sorted(inj.caps.items())],
        **truth,
    }
    write_text(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=False, default=str) + "\n")
    return manifest
