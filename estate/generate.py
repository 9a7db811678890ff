"""Orchestrates one estate: people, commerce, work, billing history, anomalies, files, truth."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from tqdm import tqdm

from estate import crm, erp, hr, psa_db
from estate.anomalies import Injected, late_approvals, missing_rate_project, post_invoicing
from estate.calendar import offsets_to_dates
from estate.commercial import make_commercial
from estate.config import EstateConfig, month_start
from estate.invoicing import invoiceable_time, simulate
from estate.jsonfmt import write_text
from estate.money import quantity_cents
from estate.payroll import pay_periods, write_payroll
from estate.people import make_people
from estate.rates import expected_rates
from estate.reference import ENTITIES, ROLE_NAMES
from estate.truth import billed_stats, classify, flagged
from estate.work import DAY, make_work

# what pricing, invoicing and the oracle read of an entry (the PSA's text columns stay out: at L they are GBs)
RATED_COLUMNS = (
    "time_entry_id",
    "worker",
    "day",
    "project_id",
    "role",
    "minutes",
    "billable",
    "status",
    "approved_sec",
    "deleted_sec",
    "revision",
)


def _rate(cfg, people, com, entries: pl.DataFrame) -> pl.DataFrame:
    regions = np.array([e.region for e in ENTITIES])[people.entity]
    e = (
        entries.select(RATED_COLUMNS)
        .with_columns(
            role_name=pl.col("role").cast(pl.Int64).replace_strict(dict(enumerate(ROLE_NAMES)), return_dtype=pl.Utf8),
            quantity_cents=quantity_cents(pl.col("minutes").cast(pl.Int64)),
        )
        .join(pl.DataFrame({"worker": np.arange(people.n, dtype=np.int32), "region_name": regions}), on="worker")
        .join(
            com.projects.select(
                "project_id",
                "billing_type",
                "currency",
                "legal_entity",
                "account",
                "project_code",
                project_status="status",
                contract_id="crm_contract_id",
            ),
            on="project_id",
        )
    )
    return expected_rates(cfg, com, e)


def _month_slices(cfg, entries: pl.DataFrame) -> list[pl.DataFrame]:
    """The entries a calendar month at a time (they are sorted by work day, so these are zero-copy slices):
    pricing and the oracle work on one month of a 9 M-entry estate at a time, in work-date order."""
    days = entries["day"].to_numpy()
    assert (np.diff(days) >= 0).all(), "entries sorted by work day"
    n_months = cfg.months + 1  # the next month too: nothing is after it
    bounds = [(month_start(cfg.start_date, k) - cfg.start_date).days for k in range(n_months)]
    cut = np.searchsorted(days, bounds[1:], side="left").tolist()
    starts = [0, *cut]
    ends = [*cut, len(days)]
    # no entries at all (a firm too small to have worked yet): one empty slice, so every result has its columns
    return [entries.slice(a, b - a) for a, b in zip(starts, ends) if b > a] or [entries]


# what the oracle reads of a priced entry, and what the truth files and NTE caps read of its verdict
CLASSIFIED_INPUT = (
    "time_entry_id",
    "worker",
    "day",
    "minutes",
    "quantity_cents",
    "revision",
    "billable",
    "status",
    "deleted_sec",
    "billing_type",
    "project_status",
    "account",
    "contract_id",
    "contract_ok",
    "expected_rate_e4",
    "standard_rate_e4",
)


def _classify(
    people,
    com,
    rated: pl.DataFrame,
    stats: pl.DataFrame,
    inj: Injected,
    caps: pl.DataFrame,
    used: pl.DataFrame | None = None,
    carried: pl.DataFrame | None = None,
) -> pl.DataFrame:
    hr_term = people.hr_term if people.hr_term is not None else people.term
    w = pl.DataFrame(
        {
            "worker": np.arange(people.n, dtype=np.int32),
            "hire": people.hire,
            "hr_term": hr_term,
            "mapped": ~np.isin(np.arange(people.n), inj.unmapped_workers),
        }
    )
    e = (
        rated.select(CLASSIFIED_INPUT)
        .join(w, on="worker")
        .join(com.accounts.select("account", customer_ok="erp_mapped"), on="account")
        .with_columns(
            live_approved=(pl.col("status") == "approved") & (pl.col("deleted_sec") < 0),
            employed=(pl.col("day") >= pl.col("hire")) & (pl.col("day") <= pl.col("hr_term")),
        )
    )
    return classify(e, stats, caps, used, carried)


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
        [invoiceable_time(cfg, com, _rate(cfg, people, com, part)) for part in _month_slices(cfg, work.entries)]
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
        totals, used = _contract_totals(com, work, stats)
        # the injected caps depend on how their contracts' entries classify without a cap: classify those alone
        capped_projects = com.projects.filter(pl.col("crm_contract_id").is_in(list(inj.caps)))["project_id"]
        capped = _rate(cfg, people, com, work.entries.filter(pl.col("project_id").is_in(capped_projects.implode())))
        empty_caps = pl.DataFrame(schema={"contract_id": pl.Utf8, "cap_cents": pl.Int64})
        caps = _set_caps(com, _classify(people, com, capped, stats, inj, empty_caps), totals, inj)
        del capped
        expected = _expected_by_month(cfg, people, com, work, stats, inj, caps, used)
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
        manifest = _manifest(cfg, people, com, work, billing, inj, expected, truth, n_days)
        steps.update()
    steps.set_postfix_str("psa")
    psa_loaded.result()  # raises what the load raised
    steps.update()
    steps.close()
    return manifest


def _contract_totals(com, work, stats: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
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


def _expected_by_month(cfg, people, com, work, stats, inj: Injected, caps, used) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The oracle a month at a time, in work-date order, each month's eligible hours carried against the caps of
    the next. Writes ``_truth/time_to_bill_expected.parquet``; returns what the manifest needs (the entries to
    flag, the status counts), so that the classification of every entry is never held whole."""
    out = cfg.landing / "_truth"
    out.mkdir(parents=True, exist_ok=True)
    carried = pl.DataFrame(schema={"contract_id": pl.Utf8, "carried_cents": pl.Int64})
    rows, flags, counts = [], [], []
    stat_ids = stats["time_entry_id"].to_numpy()  # in id order: each month's billing statistics are a slice
    for part in _month_slices(cfg, work.entries):
        ids = part["time_entry_id"]
        lo = np.searchsorted(stat_ids, ids.min(), side="left") if part.height else 0
        hi = np.searchsorted(stat_ids, ids.max(), side="right") if part.height else 0
        month_stats = stats.slice(int(lo), int(hi - lo))
        c = _classify(people, com, _rate(cfg, people, com, part), month_stats, inj, caps, used, carried)
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


def _manifest(cfg, people, com, work, billing, inj: Injected, expected: tuple, truth: dict, n_days: int) -> dict:
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
