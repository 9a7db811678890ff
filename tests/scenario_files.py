"""Writing a hand-built scenario (tests/scenario.py) in every source format under its root."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from assets.extract.specs import BY_NAME
from estate import psa_db

if TYPE_CHECKING:
    from tests.scenario import Scenario

TS = "2026-01-01T00:00:00.000Z"


def header(source_object: str) -> list[str]:
    """The columns of a source file, as the source formats declare them (assets/extract/sources/)."""
    return [f.label for f in BY_NAME[source_object].fields]


def write_csv(path: Path, columns: list[str], rows) -> None:
    """A CSV file as the ERP exports write it (CRLF line ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(columns)
        w.writerows(rows)


def write_files(s: Scenario) -> Path:
    """Every source of a scenario: CRM pages, HR reports, ERP exports and the PSA database."""
    r = s.root
    folder = r / "crm" / "20260101T000000Z"
    folder.mkdir(parents=True, exist_ok=True)
    for obj, recs in (("Account", s.accounts), ("Contract", s.contracts), ("Opportunity", [])):
        recs = [{"attributes": {"type": obj, "url": f"/x/{x['Id']}"}, **x} for x in recs]
        (folder / f"{obj}-00001.json").write_text(json.dumps({"totalSize": len(recs), "done": True, "records": recs}))
    hr = r / "hr"
    hr.mkdir(exist_ok=True)
    (hr / "workers_2026-01-01.json").write_text(json.dumps({"Report_Entry": s.workers}))
    (hr / "holidays_2026.json").write_text(
        json.dumps({"Report_Entry": [{"Country": c, "Date": d, "Name": n} for c, d, n in s.holidays]})
    )
    (hr / "time_off_2026-03-31.json").write_text(
        json.dumps(
            {"Report_Entry": [{"Employee_ID": e, "Date": d, "Hours": h, "Type": t} for e, d, h, t in s.time_off]}
        )
    )
    _csv(
        s,
        "erp/subsidiaries_2026-01-01.csv",
        ["Internal ID", "Name", "Legal Entity Code", "Country", "Currency"],
        [(1, "Firm Inc.", "US01", "US", "USD")],
    )
    _csv(
        s,
        "erp/customers_2026-01-01.csv",
        [
            "Internal ID",
            "Customer ID",
            "Company Name",
            "Subsidiary",
            "Currency",
            "Salesforce Account ID",
            "Tax Code",
            "Terms",
            "Inactive",
            "Last Modified",
        ],
        [(c["id"], c["code"], c["name"], 1, c["currency"], c["sf"], c["tax"], "Net 30", "No", TS) for c in s.customers],
    )
    _csv(
        s,
        "erp/currency_rates_2026-01-01.csv",
        ["Base Currency", "Transaction Currency", "Effective Date", "Exchange Rate"],
        [("USD", *x) for x in s.fx],
    )
    _csv(
        s,
        "erp/rate_cards_2026-01-01.csv",
        ["Rate Card ID", "Role", "Region", "Currency", "Hourly Rate", "Effective From", "Effective To"],
        s.rate_cards,
    )
    _csv(s, "erp/tax_codes_2026-01-01.csv", ["Tax Code", "Country", "Rate", "Effective From"], s.tax_codes)
    by_date: dict[str, list] = {}
    for inv in s.invoices:
        by_date.setdefault(inv["date"], []).append(inv)
    for day, invs in by_date.items():
        _csv(
            s,
            f"erp/invoices_{day}.csv",
            header("erp_invoices"),
            [
                (
                    i["id"],
                    i["number"],
                    i["customer"],
                    1,
                    day,
                    i["due"],
                    i["currency"],
                    "1.000000",
                    i["status"],
                    i["batch"] or "",
                    "",
                    f"{day}T10:00:00Z",
                    f"{day}T10:00:00Z",
                )
                for i in invs
            ],
        )
        _csv(
            s,
            f"erp/invoice_lines_{day}.csv",
            header("erp_invoice_lines"),
            [
                (
                    x["inv"],
                    x["line"],
                    x["item"],
                    x["code"],
                    x["qty"],
                    x["rate"],
                    x["amount"],
                    "US-EXEMPT",
                    "0.00",
                    x["te"] or "",
                    "",
                    "",
                    day,
                )
                for x in s.lines
                if x["date"] == day
            ],
        )
    for day in sorted({p[2] for p in s.payments}):
        _csv(
            s,
            f"erp/payments_{day}.csv",
            header("erp_payments"),
            [p for p in s.payments if p[2] == day],
        )
    _csv(
        s,
        "payroll/pay_periods.csv",
        ["Company", "Period ID", "Start Date", "End Date", "Lock Date"],
        [("US01", "US01-2026-03", "2026-03-01", "2026-03-31", "2026-04-10")],
    )
    _psa(s)
    return r


def _csv(s: Scenario, rel: str, columns: list[str], rows) -> None:
    write_csv(s.root / rel, columns, rows)


def _psa(s: Scenario) -> None:
    stamp = datetime(2026, 1, 1)
    res = pl.DataFrame(
        [{**x, "full_name": f"Resource {x['resource_id']}", "active": True, "updated_at": stamp} for x in s.resources],
        schema_overrides={"hr_employee_id": pl.Utf8},
    )
    proj = pl.DataFrame(
        [{**p, "updated_at": stamp} for p in s.projects],
        schema_overrides={"crm_contract_id": pl.Utf8, "end_date": pl.Date},
    )
    asg_schema = {
        "assignment_id": pl.Int64,
        "project_id": pl.Int64,
        "resource_id": pl.Int64,
        "role": pl.Utf8,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "hours_per_week": pl.Float64,
        "updated_at": pl.Datetime,
    }
    asg = pl.DataFrame([{**a, "hours_per_week": 40.0, "updated_at": stamp} for a in s.assignments], schema=asg_schema)
    te = pl.DataFrame(
        s.entries,
        schema_overrides={
            "approved_at": pl.Datetime,
            "deleted_at": pl.Datetime,
            "approver_resource_id": pl.Int64,
            "notes": pl.Utf8,
        },
    )
    ms = pl.DataFrame(
        schema={
            "milestone_id": pl.Int64,
            "project_id": pl.Int64,
            "name": pl.Utf8,
            "amount_in_cents": pl.Int64,
            "currency": pl.Utf8,
            "due_date": pl.Date,
            "status": pl.Utf8,
            "accepted_at": pl.Datetime,
            "updated_at": pl.Datetime,
        }
    )
    ex = pl.DataFrame(
        schema={
            "expense_id": pl.Int64,
            "resource_id": pl.Int64,
            "project_id": pl.Int64,
            "expense_date": pl.Date,
            "category": pl.Utf8,
            "amount_in_cents": pl.Int64,
            "currency": pl.Utf8,
            "billable": pl.Boolean,
            "status": pl.Utf8,
            "approved_at": pl.Datetime,
            "deleted_at": pl.Datetime,
            "updated_at": pl.Datetime,
        }
    )
    psa_db.load(
        f"sqlite:///{s.root / 'psa' / 'psa.db'}",
        {
            "resources": res,
            "projects": proj,
            "assignments": asg,
            "time_entries": te,
            "milestones": ms,
            "expenses": ex,
        },
    )
