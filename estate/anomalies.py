"""Injected anomalies with known answers.

``rate`` is the share of time entries that get an entry-level defect (split evenly over the
five billing defects); group-level defects (projects, workers, customers, caps, ERP lines)
get ``max(1, round(rate x population))`` cases each, so every status and reason occurs.
Every case is recorded in the ground truth by its record key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from estate.invoicing import Billing
from estate.money import amount_cents, tax_cents
from estate.payroll import in_pay_period
from estate.reference import LIMITED_CARD_ROLES
from estate.work import DAY, ENTRY_STATUSES, Work

ENTRY_DEFECTS = ("NOT_APPROVED_BILLED", "NOT_BILLABLE_BILLED", "DUPLICATE_BILLED", "HOURS_MISMATCH", "RATE_MISMATCH")


@dataclass
class Injected:
    """What was injected, by kind, with the keys the truth manifest names."""

    entries: dict[str, list[int]] = field(default_factory=dict)
    projects: dict[str, list[int]] = field(default_factory=dict)
    unmapped_workers: list[int] = field(default_factory=list)
    unknown_hr_ids: dict[int, str] = field(default_factory=dict)
    outside_workers: list[int] = field(default_factory=list)
    unmapped_accounts: list[int] = field(default_factory=list)
    late_approvals: list[int] = field(default_factory=list)
    line_exceptions: list[dict] = field(default_factory=list)
    caps: dict[str, str] = field(default_factory=dict)  # contract id -> "PARTIAL" | "ZERO"
    rate: float = 0.01


def count(rate: float, population: int, floor: int = 1) -> int:
    return max(floor, round(rate * population))


def missing_rate_project(rng, com, work: Work, inj: Injected) -> None:
    """A T&M project whose contract points at a card that lacks junior roles."""
    junior = [
        i
        for i, r in enumerate(("Analyst", "Consultant", "Senior Consultant", "Manager", "Director"))
        if r not in LIMITED_CARD_ROLES
    ]
    e = work.entries.filter(pl.col("role").is_in(junior) & (pl.col("status") == "approved"))
    tm = com.projects.filter(pl.col("billing_type") == "tm")["project_id"]
    cand = e.filter(pl.col("project_id").is_in(tm.implode())).group_by("project_id").len().filter(pl.col("len") >= 5)
    amended = com.contracts.filter(pl.col("amends").is_not_null())["amends"]
    roots = com.contracts.filter(pl.col("amends").is_null() & ~pl.col("Id").is_in(amended.implode()))
    cand = cand.join(roots.select("project_id"), on="project_id").sort("project_id")
    k = count(inj.rate, com.projects.height)
    chosen = sorted(cand["project_id"].to_numpy()[rng.permutation(cand.height)[:k]].tolist())
    inj.projects["MISSING_RATE"] = chosen
    com.contracts = com.contracts.with_columns(
        card=pl.when(pl.col("project_id").is_in(chosen) & pl.col("amends").is_null())
        .then(pl.col("card").str.replace(r"-(STD|PREM)$", "-LTD"))
        .otherwise(pl.col("card"))
    )


def late_approvals(rng, cfg, people, work: Work, pay_periods: pl.DataFrame, inj: Injected) -> None:
    """Contingent workers' entries approved after the payroll period's lock date."""
    contingent = np.flatnonzero(people.contingent)
    e = (
        work.entries.select("worker", "day", "status", "time_entry_id")
        .with_row_index("_i")
        .filter(pl.col("worker").is_in(contingent.tolist()) & (pl.col("status") == "approved"))
        .join(pl.DataFrame({"worker": np.arange(people.n, dtype=np.int32), "entity": people.entity}), on="worker")
    )
    locked = pay_periods.filter(pl.col("lock_day") < (cfg.end_date - cfg.start_date).days - 10)
    cand = in_pay_period(e, locked.select("entity", "start_day", "end_day", "lock_day")).sort("_i")
    if cand.height == 0:
        return
    k = count(inj.rate, cand.height // 5, floor=2)
    pick = cand[np.sort(rng.permutation(cand.height)[:k])]
    idx = pick["_i"].to_numpy()
    new_appr = (pick["lock_day"].to_numpy() + rng.integers(1, 6, size=len(idx))) * DAY + 11 * 3600
    appr = work.entries["approved_sec"].to_numpy().copy()
    upd = work.entries["updated_sec"].to_numpy().copy()
    appr[idx] = new_appr
    upd[idx] = np.maximum(upd[idx], new_appr)
    work.entries = work.entries.with_columns(approved_sec=pl.Series(appr), updated_sec=pl.Series(upd))
    inj.late_approvals = sorted(pick["time_entry_id"].to_list())


def _edit(work: Work, ids: list[int], when: np.ndarray, **changes) -> None:
    """Apply a post-invoice edit to entries: bump the revision and the update time."""
    # a lookup by id, not a join: a join copies every column of the millions of entries on each edit
    e = work.entries.with_columns(
        _when=pl.col("time_entry_id").replace_strict(
            pl.Series(ids, dtype=work.entries.schema["time_entry_id"]),
            pl.Series(np.asarray(when), dtype=pl.Int64),
            default=None,
            return_dtype=pl.Int64,
        )
    )
    hit = pl.col("_when").is_not_null()
    cols = {name: pl.when(hit).then(value).otherwise(pl.col(name)) for name, value in changes.items()}
    work.entries = e.with_columns(
        revision=pl.when(hit).then(pl.col("revision") + 1).otherwise(pl.col("revision")),
        updated_sec=pl.when(hit).then(pl.max_horizontal("updated_sec", "_when")).otherwise(pl.col("updated_sec")),
        **cols,
    ).drop("_when")


def post_invoicing(rng, cfg, com, people, work: Work, billing: Billing, inj: Injected, n_days: int) -> Billing:
    rate = inj.rate
    end_sec = n_days * DAY - 1
    entries = work.entries
    lines = billing.lines
    live_inv = billing.invoices.filter(pl.col("status") != "Voided")
    tm_lines = (  # only the columns read here: at L the lines are millions and a filter copies what it keeps
        lines.select("invoice_id", "source_id", "item")
        .filter(pl.col("item") == "PS-TM-HOURS")
        .join(live_inv.select("invoice_id", inv_day="day"), on="invoice_id")
    )
    billed_once = (
        tm_lines.group_by("source_id").agg(pl.len(), inv_day=pl.col("inv_day").max()).filter(pl.col("len") == 1)
    )
    tm = com.projects.filter(
        (pl.col("billing_type") == "tm") & ~pl.col("project_id").is_in(inj.projects.get("MISSING_RATE", []))
    )
    cur_month = int(billing.month_days[np.searchsorted(billing.month_days, n_days - 1, side="right") - 1])

    # group defects on projects that have unbilled approved work at the end
    unbilled = (
        entries.select("time_entry_id", "project_id", "worker", "day", "status", "billable")
        .filter((pl.col("status") == "approved") & pl.col("billable"))
        .join(tm_lines.select(time_entry_id="source_id"), on="time_entry_id", how="anti")
    )
    busy = (
        unbilled.filter(pl.col("day") >= cur_month)
        .group_by("project_id")
        .len()
        .filter(pl.col("len") >= 6)
        .join(tm.select("project_id", "account"), on="project_id")
        .sort("project_id")
    )
    order = rng.permutation(busy.height)
    taken: set[int] = set()
    kinds = ["UNMAPPED_CUSTOMER", "PROJECT_ON_HOLD", "PROJECT_CLOSED", "NO_ACTIVE_CONTRACT", "CAP_PARTIAL", "CAP_ZERO"]
    per_kind = count(rate, com.projects.height)
    picks: dict[str, list[int]] = {k: [] for k in kinds}
    accounts_of = dict(zip(com.projects["project_id"].to_list(), com.projects["account"].to_list()))
    amended = set(com.contracts.filter(pl.col("amends").is_not_null())["amends"].to_list())
    root_of = dict(zip(com.projects["project_id"].to_list(), com.projects["crm_contract_id"].to_list()))
    pos = 0
    for kind in kinds:
        while len(picks[kind]) < per_kind and pos < len(order):
            pid = int(busy["project_id"][int(order[pos])])
            pos += 1
            if pid in taken or ((kind.startswith("CAP") or kind == "NO_ACTIVE_CONTRACT") and root_of[pid] in amended):
                continue
            if kind == "UNMAPPED_CUSTOMER":
                acc = accounts_of[pid]
                group = [p for p, a in accounts_of.items() if a == acc]
                if any(p in taken for p in group):
                    continue
                inj.unmapped_accounts.append(acc)
                taken.update(group)
                picks[kind].extend(group)
                continue
            taken.add(pid)
            picks[kind].append(pid)
    inj.projects.update({k: sorted(v) for k, v in picks.items()})
    com.accounts = com.accounts.with_columns(erp_mapped=~pl.col("account").is_in(inj.unmapped_accounts))
    com.projects = com.projects.with_columns(
        status=pl.when(pl.col("project_id").is_in(picks["PROJECT_ON_HOLD"]))
        .then(pl.lit("on_hold"))
        .when(pl.col("project_id").is_in(picks["PROJECT_CLOSED"]))
        .then(pl.lit("closed"))
        .otherwise(pl.col("status")),
        end_day=pl.when(pl.col("project_id").is_in(picks["PROJECT_CLOSED"]))
        .then(pl.lit(n_days - 12))
        .otherwise(pl.col("end_day")),
    )
    com.contracts = com.contracts.with_columns(
        prev_end_day=pl.when(pl.col("project_id").is_in(picks["NO_ACTIVE_CONTRACT"]) & pl.col("amends").is_null()).then(
            pl.col("end_day")
        ),
        end_day=pl.when(pl.col("project_id").is_in(picks["NO_ACTIVE_CONTRACT"]) & pl.col("amends").is_null())
        .then(pl.lit(n_days - 12))
        .otherwise(pl.col("end_day")),
        modstamp_day=pl.when(pl.col("project_id").is_in(picks["NO_ACTIVE_CONTRACT"]) & pl.col("amends").is_null())
        .then(pl.lit(n_days - 11))
        .otherwise(pl.col("modstamp_day")),
    )
    for kind, tag in (("CAP_PARTIAL", "PARTIAL"), ("CAP_ZERO", "ZERO")):
        for pid in picks[kind]:
            inj.caps[root_of[pid]] = tag

    # worker defects: broken HR mapping, and time logged after an HR termination
    workers = (
        unbilled.filter(pl.col("day") >= cur_month)
        .join(tm.select("project_id"), on="project_id")
        .group_by("worker")
        .len()
        .filter(pl.col("len") >= 3)
        .sort("worker")
    )
    wk = workers["worker"].to_numpy()
    w_ok = workers.filter(pl.Series(~people.contingent[wk] & (people.term[wk] > n_days)))
    w_order = w_ok["worker"].to_numpy()[rng.permutation(w_ok.height)]
    k = count(rate, people.n)
    inj.unmapped_workers = sorted(w_order[:k].tolist())
    inj.unknown_hr_ids = {w: f"E9{w + 1:05d}" for w in inj.unmapped_workers[::2]}
    inj.outside_workers = sorted(w_order[k : 2 * k].tolist())
    hr_term = people.term.copy()
    hr_term[inj.outside_workers] = n_days - 9
    people.hr_term = hr_term

    # entry defects on clean, once-billed entries
    blocked_projects = {p for v in inj.projects.values() for p in v}
    blocked_workers = (
        set(inj.unmapped_workers) | set(inj.outside_workers) | set(np.flatnonzero(people.contingent).tolist())
    )
    pool = (
        billed_once.rename({"source_id": "time_entry_id"})
        .join(entries.select("time_entry_id", "project_id", "worker", "minutes", "status"), on="time_entry_id")
        .filter(
            ~pl.col("project_id").is_in(list(blocked_projects))
            & ~pl.col("worker").is_in(list(blocked_workers))
            & (pl.col("status") == "approved")
        )
        .sort("time_entry_id")
    )
    per_defect = count(rate, entries.height / len(ENTRY_DEFECTS))
    max_te = int(entries["time_entry_id"].max())
    del entries, unbilled  # the edits below make new versions of the entries: do not hold the old one too
    order = rng.permutation(pool.height)
    chunks = {d: pool[np.sort(order[i * per_defect : (i + 1) * per_defect])] for i, d in enumerate(ENTRY_DEFECTS)}
    for d, frame in chunks.items():
        inj.entries[d] = frame["time_entry_id"].to_list()

    def when_after(frame: pl.DataFrame) -> np.ndarray:
        t = (frame["inv_day"].to_numpy().astype(np.int64) + rng.integers(1, 20, size=frame.height)) * DAY + 14 * 3600
        return np.minimum(t, end_sec - 3600)

    nab = chunks["NOT_APPROVED_BILLED"]
    half = nab.height // 2
    dele, rej = nab[:half], nab[half:]
    _edit(work, dele["time_entry_id"].to_list(), when_after(dele), deleted_sec=pl.col("_when"))
    _edit(
        work,
        rej["time_entry_id"].to_list(),
        when_after(rej),
        status=pl.lit("rejected", dtype=ENTRY_STATUSES),
        approved_sec=pl.lit(-1, dtype=pl.Int64),
        rejected_sec=pl.col("_when"),
    )
    # a deletion is not an edit: it does not bump the revision
    work.entries = work.entries.with_columns(
        revision=pl.when(pl.col("time_entry_id").is_in(dele["time_entry_id"].implode()))
        .then(pl.col("revision") - 1)
        .otherwise(pl.col("revision"))
    )
    nbb = chunks["NOT_BILLABLE_BILLED"]
    _edit(work, nbb["time_entry_id"].to_list(), when_after(nbb), billable=pl.lit(False))
    hm = chunks["HOURS_MISMATCH"]
    delta = rng.choice([-120, -60, -30, -15, 15, 30, 45, 60, 90, 120], size=hm.height)
    new_min = np.maximum(hm["minutes"].to_numpy() + delta, 15)
    new_min = np.where(new_min == hm["minutes"].to_numpy(), new_min + 15, new_min)
    new_minutes = pl.col("time_entry_id").replace_strict(
        hm["time_entry_id"], pl.Series(new_min, dtype=pl.Int64), default=None, return_dtype=pl.Int64
    )
    work.entries = work.entries.with_columns(minutes=pl.coalesce(new_minutes, "minutes").cast(pl.Int32))
    _edit(work, hm["time_entry_id"].to_list(), when_after(hm))

    # ERP-side defects: a second line for the same hours, a wrong rate
    dup_ids = chunks["DUPLICATE_BILLED"]["time_entry_id"]
    rm_ids = chunks["RATE_MISMATCH"]["time_entry_id"]
    lines = lines.with_columns(
        rate_e4=pl.when((pl.col("item") == "PS-TM-HOURS") & pl.col("source_id").is_in(rm_ids.implode()))
        .then(pl.col("rate_e4") + 100_000)
        .otherwise(pl.col("rate_e4"))
    )
    dups = lines.filter((pl.col("item") == "PS-TM-HOURS") & pl.col("source_id").is_in(dup_ids.implode())).join(
        live_inv.select("invoice_id"), on="invoice_id"
    )
    extra = [dups]
    # lines the PSA cannot match: unknown time entry ids, unknown project codes
    live = live_inv.sort("invoice_id")
    n_lines = count(rate, live.height // 2)
    host = live[np.sort(rng.permutation(live.height)[: 2 * n_lines])]
    orphan_rows, unknown_rows = [], []
    for i, (inv, pcode, tcode, day) in enumerate(
        host.select("invoice_id", "project_code", "tax_code", "day").iter_rows()
    ):
        if i < n_lines:
            te = max_te + 1000 + i
            orphan_rows.append((inv, "PS-TM-HOURS", te, pcode, tcode, day - 10, 800, 1_500_000))
            inj.line_exceptions.append({"invoice_id": inv, "kind": "ORPHAN_BILLING_LINE", "psa_time_entry_id": te})
        else:
            code = f"P-9{9000 + i:04d}"
            unknown_rows.append((inv, "PS-ADJUSTMENT", None, code, tcode, day - 10, 100, 2_500_000))
            inj.line_exceptions.append({"invoice_id": inv, "kind": "UNKNOWN_PROJECT", "project_code": code})
    schema = ["invoice_id", "item", "source_id", "project_code", "tax_code", "service_day", "quantity_cents", "rate_e4"]
    odd = pl.DataFrame(orphan_rows + unknown_rows, schema=schema, orient="row")
    extra.append(odd)
    base_cols = lines.columns
    tax = lines.select("invoice_id", "tax_bp").unique("invoice_id")
    add = (
        pl.concat([x.select(schema) for x in extra], how="vertical_relaxed")
        .join(tax, on="invoice_id")
        .with_columns(amount_cents=amount_cents(pl.col("quantity_cents"), pl.col("rate_e4")))
    )
    add = add.with_columns(tax_cents=tax_cents(pl.col("amount_cents"), pl.col("tax_bp")))
    # appended after the invoice's existing lines, in a stable order
    last = lines.group_by("invoice_id").agg(_last=pl.col("line").max())
    add = (
        add.sort(["invoice_id", "item", "source_id", "project_code"], nulls_last=True)
        .join(last, on="invoice_id")
        .with_columns(line=pl.col("_last") + pl.int_range(1, pl.len() + 1).over("invoice_id"))
        .drop("_last")
    )
    lines = lines.with_columns(amount_cents=amount_cents(pl.col("quantity_cents"), pl.col("rate_e4")))
    lines = lines.with_columns(tax_cents=tax_cents(pl.col("amount_cents"), pl.col("tax_bp")))
    add = add.select(
        [pl.col(c) if c in add.columns else pl.lit(None, dtype=lines.schema[c]).alias(c) for c in base_cols]
    ).cast(dict(lines.schema))
    # both are in (invoice, line) order and an invoice's added lines come after its own: a merge, not a re-sort
    billing.lines = lines.merge_sorted(add, key="invoice_id")
    return billing
