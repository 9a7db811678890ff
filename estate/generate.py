"""Orchestrates one estate: people, commerce, work, billing history, anomalies, files, truth."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np
import polars as pl
from tqdm import tqdm

from estate import crm, erp, hr, psa_db
from estate.anomalies import Injected, late_approvals, missing_rate_project, post_invoicing
from estate.calendar import offsets_to_dates
from estate.commercial import make_commercial
from estate.config import EstateConfig
from estate.invoicing import invoiceable_time, simulate
from estate.manifest import contract_totals, expected_by_month, manifest_of
from estate.payroll import pay_periods, write_payroll
from estate.people import make_people
from estate.pricing import classify_entries, month_slices, rate_entries
from estate.reference import ENTITIES, ROLE_NAMES
from estate.truth import billed_stats
from estate.work import DAY, make_work


def _set_caps(com, classified: pl.DataFrame, totals: pl.DataFrame, inj: Injected) -> pl.DataFrame:
    """NTE caps: large for ordinary capped contracts (``totals``: every entry's hours per contract); crossing
    mid-batch or zero for injected ones."""
    caps = {}
    for cid, total in totals.iter_rows():
        caps[cid] = (int(total) * 2 // 10_000 + 1) * 10_000
    injected = classified.filter(pl.col("contract_id").is_in(list(inj.caps)))  # one pass over the entries
    for cid, tag in inj.caps.items():
        if tag == "ZERO":
            caps[cid] = 0
            continue
        mine = injected.filter(pl.col("contract_id") == cid)
        billed = int(mine["net_billed_cents"].sum())
        elig = mine.filter(pl.col("status") == "UNBILLED").sort(["day", "time_entry_id"])
        q = elig["quantity_cents"].to_numpy()
        j = max(1, len(q) // 2)
        caps[cid] = billed + int(q[:j].sum()) + int(q[j]) // 2 if len(q) > j else billed
    roots = com.contracts.filter(pl.col("amends").is_null())
    wanted = roots.filter((pl.col("nte_kind") == "large") | pl.col("Id").is_in(list(inj.caps))).select("Id")
    cap_frame = pl.DataFrame({"contract_id": list(caps), "cap_cents": list(caps.values())}).join(
        wanted.rename({"Id": "contract_id"}), on="contract_id"
    )
    root_of = dict(zip(com.contracts["Id"].to_list(), com.contracts["amends"].to_list()))
    com.contracts = com.contracts.with_columns(
        nte_cents=pl.col("Id").map_elements(lambda i: caps.get(root_of.get(i) or i), return_dtype=pl.Int64)
    ).with_columns(
        nte_cents=pl.when(
            pl.col("Id").is_in(cap_frame["contract_id"].implode())
            | pl.col("amends").is_in(cap_frame["contract_id"].implode())
        ).then(pl.col("nte_cents"))
    )
    return cap_frame


def _stamp(cfg, col: str) -> pl.Expr:
    base = pl.lit(datetime.combine(cfg.start_date, datetime.min.time())).cast(pl.Datetime("us"))
    return pl.when(pl.col(col) >= 0).then(base + pl.duration(seconds=pl.col(col)))


def _psa_frames(cfg, people, com, work, inj: Injected, n_days: int) -> dict[str, pl.DataFrame | pl.LazyFrame]:
    ids = people.employee_ids().astype(object)
    for w in inj.unmapped_workers:
        ids[w] = inj.unknown_hr_ids.get(w)
    end_sec = n_days * DAY - 1
    res = (
        pl.DataFrame(
            {
                "resource_id": np.arange(1, people.n + 1),
                "hr_employee_id": list(ids),
                "full_name": [f"Worker {i + 1:06d}" for i in range(people.n)],
                "role": np.array(ROLE_NAMES)[people.role0],
                "region": np.array([e.region for e in ENTITIES])[people.entity],
                "active": people.term > n_days,
                "_upd": np.where(np.isin(np.arange(people.n), inj.unmapped_workers), end_sec - 30 * DAY, -100 * DAY),
            }
        )
        .with_columns(  # the resource baseline predates the horizon, so no -1 "null" sentinel applies here
            updated_at=pl.lit(datetime.combine(cfg.start_date, datetime.min.time())).cast(pl.Datetime("us"))
            + pl.duration(seconds=pl.col("_upd"))
        )
        .drop("_upd")
    )
    proj = com.projects.with_columns(
        start_date=offsets_to_dates(pl.col("start_day"), cfg.start_date),
        end_date=offsets_to_dates(pl.col("end_day"), cfg.start_date),
        _upd=pl.when(pl.col("status") != "active")
        .then(pl.lit(end_sec - 10 * DAY))
        .otherwise(pl.max_horizontal(pl.col("start_day"), 0) * DAY + 3600),
    ).with_columns(updated_at=_stamp(cfg, "_upd"))
    asg = work.assignments.with_columns(
        start_date=offsets_to_dates(pl.col("start_day"), cfg.start_date),
        end_date=offsets_to_dates(pl.col("end_day"), cfg.start_date),
        hours_per_week=pl.col("hours_per_week").cast(pl.Float64),
        _upd=pl.max_horizontal(pl.col("start_day"), 0).cast(pl.Int64) * DAY + 7200,
    ).with_columns(updated_at=_stamp(cfg, "_upd"))
    te = work.entries.lazy().with_columns(  # built a chunk at a time by the loader
        resource_id=pl.col("worker") + 1,
        date_performed=offsets_to_dates(pl.col("day"), cfg.start_date),
        time_in_minutes="minutes",
        submitted_at=_stamp(cfg, "submitted_sec"),
        approved_at=_stamp(cfg, "approved_sec"),
        approver_resource_id=pl.when(pl.col("approver") > 0).then(pl.col("approver")),
        deleted_at=_stamp(cfg, "deleted_sec"),
        updated_at=_stamp(cfg, "updated_sec"),
    )
    ms = work.milestones.with_columns(
        amount_in_cents="amount_cents",
        due_date=offsets_to_dates(pl.col("due_day"), cfg.start_date),
        accepted_at=_stamp(cfg, "accepted_sec"),
        _u=pl.when(pl.col("accepted_sec") >= 0)
        .then(pl.col("accepted_sec"))
        .otherwise(pl.min_horizontal(pl.max_horizontal(pl.col("due_day") - 60, 0) * DAY, pl.lit(end_sec))),
    ).with_columns(updated_at=_stamp(cfg, "_u"))
    ex = (
        work.expenses.with_columns(
            expense_date=offsets_to_dates(pl.col("day"), cfg.start_date),
            amount_in_cents="amount_cents",
            approved_at=_stamp(cfg, "approved_sec"),
            deleted_at=_stamp(cfg, "deleted_sec"),
            _u=pl.max_horizontal("approved_sec", "deleted_sec", pl.col("day").cast(pl.Int64) * DAY + 20 * 3600),
        )
        .with_columns(_u=pl.min_horizontal("_u", pl.lit(end_sec)))
        .with_columns(updated_at=_stamp(cfg, "_u"))
    )
    return {
        "resources": res,
        "projects": proj,
        "assignments": asg,
        "time_entries": te,
        "milestones": ms,
        "expenses": ex,
    }


def generate_estate(cfg: EstateConfig) -> dict:
    """Write a whole estate under ``cfg.out``; returns the ground-truth manifest (also on disk)."""
    steps = tqdm(total=10, desc="estate", unit="step", disable=not cfg.progress)
    n_days = (cfg.end_date - cfg.start_date).days + 1
    rng = np.random.default_rng([cfg.seed, 9])
    truth: dict = {}
    inj = Injected(rate=cfg.anomaly_rate)

    steps.set_postfix_str("people")
    people = make_people(cfg, n_days)
    steps.update()
    steps.set_postfix_str("commerce")
    com = make_commercial(cfg, n_days)
    steps.update()
    steps.set_postfix_str("time")
    work = make_work(cfg, people, com, n_days)
    steps.update()
    periods = pay_periods(cfg)
    missing_rate_project(rng, com, work, inj)
    late_approvals(rng, cfg, people, work, periods, inj)
    steps.set_postfix_str("invoices")
    tm = pl.concat(
        [invoiceable_time(cfg, com, rate_entries(cfg, people, com, part)) for part in month_slices(cfg, work.entries)]
    )
    billing = simulate(cfg, com, work, tm, rng)
    del tm
    steps.update()
    steps.set_postfix_str("anomalies")
    billing = post_invoicing(rng, cfg, com, people, work, billing, inj, n_days)
    # the PSA is final now: its bulk load (one core, mostly SQLite) runs beside the oracle and the file writers
    # leaving the block waits for the load, also when an error inside it is raised
    with ThreadPoolExecutor(max_workers=1) as background:
        psa_loaded = background.submit(psa_db.load, cfg.psa_db_url, _psa_frames(cfg, people, com, work, inj, n_days))
        stats = billed_stats(billing.lines, billing.invoices)
        totals, used = contract_totals(com, work, stats)
        # the injected caps depend on how their contracts' entries classify without a cap: classify those alone
        capped_projects = com.projects.filter(pl.col("crm_contract_id").is_in(list(inj.caps)))["project_id"]
        capped = rate_entries(
            cfg, people, com, work.entries.filter(pl.col("project_id").is_in(capped_projects.implode()))
        )
        empty_caps = pl.DataFrame(schema={"contract_id": pl.Utf8, "cap_cents": pl.Int64})
        caps = _set_caps(com, classify_entries(people, com, capped, stats, inj, empty_caps), totals, inj)
        del capped
        expected = expected_by_month(cfg, people, com, work, stats, inj, caps, used)
        del stats
        steps.update()

        steps.set_postfix_str("crm")
        crm.write_crm(cfg, crm.build_versions(cfg, com, n_days, truth), n_days)
        steps.update()
        steps.set_postfix_str("hr")
        hr.write_hr(cfg, people, work.time_off, truth)
        steps.update()
        steps.set_postfix_str("erp")
        erp.write_master(cfg, com, truth)
        erp.write_transactions(cfg, com, billing, n_days, truth)
        steps.update()
        steps.set_postfix_str("payroll")
        write_payroll(cfg, people, work, periods, n_days, inj.late_approvals, truth)
        manifest = manifest_of(cfg, people, com, work, billing, inj, expected, truth, n_days)
        steps.update()
    steps.set_postfix_str("psa")
    psa_loaded.result()  # raises what the load raised
    steps.update()
    steps.close()
    return manifest
