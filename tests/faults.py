"""Fault injection on a generated estate: break a source the way operators see it broken, run, fix, run again.

Every fault is checked against a clean run of the same estate (``Baseline``): the faulty run bills no key the
clean run would not bill, names the fault in its verdict and in ``ops.exceptions``, writes nothing outside the
output folder; once the fault is fixed, the next date's run has billed exactly the clean run's keys.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from tests.helpers import materialize_as_of, query

FAULT_ESTATE = dict(employees=60, months=4, seed=11)
AS_OF = date(2026, 9, 30)
NEXT = AS_OF + timedelta(days=1)


def ledger_keys(warehouse: Path, as_of: date | None = None) -> set[str]:
    sql = "SELECT idempotency_key FROM billing.ledger" + (" WHERE as_of_date = ?" if as_of else "")
    return {k for (k,) in query(warehouse, sql, [as_of] if as_of else [])}


@dataclass
class Run:
    """One pipeline run and what it left: its verdict line and exit code."""

    result: object
    verdict: str
    code: int


def run(landing: Path, warehouse: Path, as_of: date, outputs: Path, psa_url: str | None = None) -> Run:
    """Everything billing depends on, for one as-of date (the marts and the sources only they read are left
    out: they cannot change what is billed)."""
    import dagster as dg

    from assets.billing.assets import BATCH_FILES
    from dagster_project.verdict import verdict

    result = materialize_as_of(
        landing,
        warehouse,
        as_of.isoformat(),
        raise_on_error=False,
        outputs=outputs,
        psa_url=psa_url,
        selection=dg.AssetSelection.assets(BATCH_FILES).upstream(),
    )
    line, code = verdict(result, as_of, str(warehouse))
    return Run(result, line, code)


def open_exception_text(warehouse: Path) -> str:
    rows = query(
        warehouse,
        "SELECT coalesce(file, '') || ' ' || record_key || ' ' || rule || ' ' || message "
        "FROM ops.exceptions WHERE resolved_at IS NULL",
    )
    return "\n".join(r[0] for r in rows)


# ---- editing landed files ------------------------------------------------------------------------------------


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def busiest(landing: Path, pattern: str) -> Path:
    """The file of a kind with the most rows: where a fault hurts most."""
    return max(sorted(landing.glob(pattern)), key=lambda p: p.read_bytes().count(b"\n"))


def latest(landing: Path, pattern: str) -> Path:
    return sorted(landing.glob(pattern))[-1]


def crm_page(landing: Path, obj: str) -> Path:
    """The latest CRM page of an object."""
    return sorted(landing.glob(f"crm/*/{obj}-*.json"))[-1]


def backup(path: Path) -> bytes:
    return path.read_bytes()


def psa(landing: Path) -> sqlite3.Connection:
    return sqlite3.connect(landing / "psa" / "psa.db")


def billed_tm_line(landing: Path) -> tuple[Path, int]:
    """An invoice-lines file and the index of a PS-TM-HOURS line in it."""
    path = busiest(landing, "erp/invoice_lines_*.csv")
    _, rows = read_csv(path)
    return path, next(i for i, r in enumerate(rows) if r["Item"] == "PS-TM-HOURS" and r["PSA Time Entry ID"])


def billed_customer(landing: Path) -> tuple[Path, int, str]:
    """The latest customers snapshot, the index of a customer that the clean run bills, and its Internal ID."""
    path = latest(landing, "erp/customers_*.csv")
    _, rows = read_csv(path)
    invoiced = set()
    for f in landing.glob("erp/invoices_*.csv"):
        invoiced |= {r["Customer"] for r in read_csv(f)[1]}
    i = next(i for i, r in enumerate(rows) if r["Internal ID"] in invoiced and r["Salesforce Account ID"])
    return path, i, rows[i]["Internal ID"]


def copy_estate(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))
