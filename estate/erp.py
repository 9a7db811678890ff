"""ERP: NetSuite-style saved-search CSV exports with labelled headers."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from estate.calendar import offsets_to_dates
from estate.commercial import Commercial
from estate.config import EstateConfig, month_start
from estate.invoicing import Billing, fx_on
from estate.jsonfmt import write_csv
from estate.money import fmt_fixed
from estate.reference import ENTITIES
from estate.work import DAY


def _date(cfg: EstateConfig, col: str) -> pl.Expr:
    return offsets_to_dates(pl.col(col), cfg.start_date).dt.strftime("%Y-%m-%d")


def _stamp(cfg: EstateConfig, sec: pl.Expr) -> pl.Expr:
    base = pl.lit(cfg.start_date).cast(pl.Datetime("ms"))
    return (base + pl.duration(seconds=sec)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _file(cfg: EstateConfig, name: str, day) -> Path:
    d = day if hasattr(day, "isoformat") else cfg.start_date + timedelta(days=int(day))
    return cfg.landing / "erp" / f"{name}_{d.isoformat()}.csv"


def write_master(cfg: EstateConfig, com: Commercial, truth: dict) -> None:
    subs = pl.DataFrame(
        {
            "Internal ID": [e.subsidiary_id for e in ENTITIES],
            "Name": [e.name for e in ENTITIES],
            "Legal Entity Code": [e.code for e in ENTITIES],
            "Country": [e.country for e in ENTITIES],
            "Currency": [e.currency for e in ENTITIES],
        }
    )
    write_csv(_file(cfg, "subsidiaries", cfg.start_date), subs)

    acc = com.accounts
    cust = acc.select(
        pl.col("customer_internal_id").alias("Internal ID"),
        pl.format("CUST-{}", pl.col("account").add(1).cast(pl.Utf8).str.zfill(4)).alias("Customer ID"),
        pl.col("Name").alias("Company Name"),
        pl.col("entity").map_elements(lambda e: ENTITIES[e].subsidiary_id, return_dtype=pl.Int64).alias("Subsidiary"),
        pl.col("CurrencyIsoCode").alias("Currency"),
        pl.col("Id").alias("Salesforce Account ID"),
        pl.col("tax_code").alias("Tax Code"),
        pl.col("terms").alias("Terms"),
        pl.lit("No").alias("Inactive"),
        pl.lit((cfg.start_date - timedelta(days=200)).isoformat() + "T08:00:00Z").alias("Last Modified"),
    )
    write_csv(_file(cfg, "customers", cfg.start_date), cust)
    # the final snapshot: unmapped customers lost their Salesforce link too, and a new column appeared
    final = cust.with_columns(
        pl.when(pl.Series(~acc["erp_mapped"].to_numpy()))
        .then(None)
        .otherwise(pl.col("Salesforce Account ID"))
        .alias("Salesforce Account ID"),
        pl.when(pl.Series(~acc["erp_mapped"].to_numpy()))
        .then(pl.lit(cfg.end_date.isoformat() + "T07:00:00Z"))
        .otherwise(pl.col("Last Modified"))
        .alias("Last Modified"),
        pl.format("Rep {}", (pl.col("Internal ID") % 7 + 1).cast(pl.Utf8)).alias("Sales Rep"),
    )
    write_csv(_file(cfg, "customers", cfg.end_date), final)
    truth.setdefault("schema_drift", []).append(
        {"source": "erp", "file": f"erp/customers_{cfg.end_date.isoformat()}.csv", "extra_columns": ["Sales Rep"]}
    )

    fx = com.fx
    for k in range(cfg.months):
        day = month_start(cfg.start_date, k)
        part = (
            fx.filter(pl.col("eff_from") <= day)
            .sort(["currency", "eff_from"])
            .select(
                pl.lit("USD").alias("Base Currency"),
                pl.col("currency").alias("Transaction Currency"),
                pl.col("eff_from").dt.strftime("%Y-%m-%d").alias("Effective Date"),
                fmt_fixed(pl.col("rate_micro"), 6).alias("Exchange Rate"),
            )
        )
        write_csv(_file(cfg, "currency_rates", day), part)

    rc = com.rate_cards.sort(["card", "role", "region", "eff_from"])
    for day, known in ((cfg.start_date, False), (com.rate_change_date, True)):
        part = rc.filter(pl.col("eff_from") <= day).select(
            pl.col("card").alias("Rate Card ID"),
            pl.col("role").alias("Role"),
            pl.col("region").alias("Region"),
            pl.col("currency").alias("Currency"),
            fmt_fixed(pl.col("rate_cents"), 2).alias("Hourly Rate"),
            pl.col("eff_from").dt.strftime("%Y-%m-%d").alias("Effective From"),
            (pl.col("eff_to").dt.strftime("%Y-%m-%d") if known else pl.lit(None, dtype=pl.Utf8)).alias("Effective To"),
        )
        write_csv(_file(cfg, "rate_cards", day), part)

    tax = com.tax_codes.select(
        pl.col("tax_code").alias("Tax Code"),
        pl.col("country").alias("Country"),
        pl.format("{}%", _pct_text(pl.col("rate_bp"))).alias("Rate"),
        pl.col("eff_from").dt.strftime("%Y-%m-%d").alias("Effective From"),
    )
    write_csv(_file(cfg, "tax_codes", cfg.start_date), tax)


def _ascending(*keys: np.ndarray) -> bool:
    """Whether rows are in ascending order of the keys, compared left to right."""
    if len(keys[0]) < 2:
        return True
    later, tie = np.zeros(len(keys[0]) - 1, dtype=bool), np.ones(len(keys[0]) - 1, dtype=bool)
    for k in keys:
        later |= tie & (k[1:] > k[:-1])
        tie &= k[1:] == k[:-1]
    return bool((later | tie).all())


def _pct_text(bp: pl.Expr) -> pl.Expr:
    return pl.when(bp % 100 == 0).then((bp // 100).cast(pl.Utf8)).otherwise(fmt_fixed(bp, 2))


def write_transactions(cfg: EstateConfig, com: Commercial, billing: Billing, n_days: int, truth: dict) -> None:
    inv = fx_on(com, cfg, billing.invoices.with_columns(_d=pl.col("day").cast(pl.Int64)), "currency", "rate_micro")
    inv = inv.sort("invoice_id").with_columns(
        doc=pl.format(
            "INV-{}-{}",
            offsets_to_dates(pl.col("day"), cfg.start_date).dt.year().cast(pl.Utf8),
            pl.col("invoice_id").sub(1_000_000).cast(pl.Utf8).str.zfill(6),
        ),
        created_sec=pl.col("day").cast(pl.Int64) * DAY + 10 * 3600,
        subsidiary=pl.col("entity").map_elements(lambda e: ENTITIES[e].subsidiary_id, return_dtype=pl.Int64),
        terms_days=pl.lit(30),
    )
    truth["invoice_numbers"] = dict(zip(inv["invoice_id"].to_list(), inv["doc"].to_list()))
    created = inv.with_columns(ev_day=pl.col("day"), ev_status=pl.lit("Open"), ev_sec=pl.col("created_sec"))
    voided = inv.filter(pl.col("void_day") >= 0).with_columns(
        ev_day=pl.col("void_day"),
        ev_status=pl.lit("Voided"),
        ev_sec=pl.col("void_day").cast(pl.Int64) * DAY + 15 * 3600,
    )
    paid = inv.filter(pl.col("paid_day") >= 0).with_columns(
        ev_day=pl.col("paid_day"),
        ev_status=pl.lit("Paid In Full"),
        ev_sec=pl.col("paid_day").cast(pl.Int64) * DAY + 16 * 3600,
    )
    events = pl.concat([created, voided, paid]).sort(["ev_day", "invoice_id"])
    heads = events.select(
        "ev_day",
        pl.col("invoice_id").alias("Internal ID"),
        pl.col("doc").alias("Document Number"),
        pl.col("customer_internal_id").alias("Customer"),
        pl.col("subsidiary").alias("Subsidiary"),
        _date(cfg, "day").alias("Date"),
        offsets_to_dates(pl.col("day") + 30, cfg.start_date).dt.strftime("%Y-%m-%d").alias("Due Date"),
        pl.col("currency").alias("Currency"),
        fmt_fixed(pl.col("rate_micro"), 6).alias("Exchange Rate"),
        pl.col("ev_status").alias("Status"),
        pl.lit(None, dtype=pl.Utf8).alias("Billing Batch ID"),
        pl.format("Professional services, {}", pl.col("project_code")).alias("Memo"),
        _stamp(cfg, pl.col("created_sec")).alias("Date Created"),
        _stamp(cfg, pl.col("ev_sec")).alias("Last Modified"),
    )
    for (day,), part in heads.partition_by("ev_day", maintain_order=True, include_key=False, as_dict=True).items():
        write_csv(_file(cfg, "invoices", day), part)

    lines = billing.lines.select(
        "invoice_id",
        "line",
        "item",
        "project_code",
        "quantity_cents",
        "rate_e4",
        "amount_cents",
        "tax_code",
        "tax_cents",
        "source_id",
        "service_day",
    ).with_columns(day=pl.col("invoice_id").replace_strict(inv["invoice_id"], inv["day"], return_dtype=pl.Int64))
    # in (invoice, line) order, and invoice ids are given in date order, so a day's lines are one slice: no copy
    if not _ascending(*(lines[c].to_numpy() for c in ("day", "invoice_id", "line"))):
        lines = lines.sort("day", "invoice_id", "line")
    columns = (  # formatted a file (a day) at a time: at L the text of every line at once is GBs
        pl.col("invoice_id").alias("Invoice Internal ID"),
        pl.col("line").alias("Line"),
        pl.col("item").alias("Item"),
        pl.col("project_code").alias("Project Code"),
        fmt_fixed(pl.col("quantity_cents"), 2).alias("Quantity"),
        fmt_fixed(pl.col("rate_e4"), 4).alias("Rate"),
        fmt_fixed(pl.col("amount_cents"), 2).alias("Amount"),
        pl.col("tax_code").alias("Tax Code"),
        fmt_fixed(pl.col("tax_cents"), 2).alias("Tax Amount"),
        pl.when(pl.col("item").is_in(["PS-TM-HOURS", "PS-ADJUSTMENT"]))
        .then(pl.col("source_id").cast(pl.Utf8))
        .alias("PSA Time Entry ID"),
        pl.when(pl.col("item") == "PS-FF-MILESTONE").then(pl.col("source_id").cast(pl.Utf8)).alias("PSA Milestone ID"),
        pl.when(pl.col("item") == "PS-EXPENSE").then(pl.col("source_id").cast(pl.Utf8)).alias("PSA Expense ID"),
        _date(cfg, "service_day").alias("Service Date"),
    )
    line_days = []
    days = lines["day"].to_numpy()
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]]) if len(days) else np.array([], dtype=np.int64)
    for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(days)]):
        day = int(days[a])
        write_csv(_file(cfg, "invoice_lines", day), lines.slice(a, b - a).select(columns))
        line_days.append(day)
    # a re-delivered duplicate: the same bytes again under the next day's name
    if line_days:
        src = line_days[len(line_days) // 2]
        dst = src + 1
        if dst not in line_days and dst < n_days:
            shutil.copyfile(_file(cfg, "invoice_lines", src), _file(cfg, "invoice_lines", dst))
            truth.setdefault("redelivered_files", []).append(
                {
                    "source": "erp",
                    "file": f"erp/invoice_lines_{(cfg.start_date + timedelta(days=dst)).isoformat()}.csv",
                    "same_as": f"erp/invoice_lines_{(cfg.start_date + timedelta(days=src)).isoformat()}.csv",
                }
            )

    pay = billing.payments.sort(["day", "payment_id"]).select(
        "day",
        pl.col("payment_id").alias("Internal ID"),
        pl.col("invoice_id").alias("Invoice Internal ID"),
        _date(cfg, "day").alias("Date"),
        fmt_fixed(pl.col("amount_cents"), 2).alias("Amount"),
        pl.col("currency").alias("Currency"),
    )
    bad_day = int(pay["day"][pay.height // 2]) if pay.height else n_days - 1
    bad_id = int(pay["Internal ID"].max() or 5_000_000) + 1
    for (day,), part in pay.partition_by("day", maintain_order=True, include_key=False, as_dict=True).items():
        if day == bad_day:
            bad = pl.DataFrame(
                {
                    "Internal ID": [bad_id],
                    "Invoice Internal ID": [part["Invoice Internal ID"][0]],
                    "Date": ["2026-02-30"],
                    "Amount": ["100.00"],
                    "Currency": [part["Currency"][0]],
                },
                schema=part.schema,
            )
            part = pl.concat([part, bad])
            truth.setdefault("malformed", []).append(
                {
                    "source": "erp",
                    "object": "payments",
                    "file": f"erp/payments_{(cfg.start_date + timedelta(days=int(day))).isoformat()}.csv",
                    "record_key": str(bad_id),
                    "field": "Date",
                    "rule": "invalid_date",
                    "message": "Date '2026-02-30' is not a valid YYYY-MM-DD date",
                }
            )
        write_csv(_file(cfg, "payments", day), part)
