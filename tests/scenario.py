"""Hand-built estates: a few records in every source format, for tests whose answer is computed by hand.

Defaults: legal entity US01 (USD, no tax), client A1 <-> customer 1001, rate card RC-STD
(Consultant NA 100.00 until 2026-03-14, 110.00 from 2026-03-15), root contract C1 (T&M, RC-STD),
employee E000001 <-> resource 1 (Consultant, NA), project 1 (P-1, T&M, contract C1).
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl

from estate import psa_db
from estate.ids import sf_id

TS = "2026-01-01T00:00:00.000Z"


def acc(n: int) -> str:
    return sf_id("001", n)


def con(n: int) -> str:
    return sf_id("800", n)


class Scenario:
    def __init__(self, root: Path):
        self.root = root
        self.accounts = [
            dict(
                Id=acc(1),
                Name="Client One",
                BillingCountry="US",
                CurrencyIsoCode="USD",
                Industry=None,
                ERP_Customer_Id__c="1001",
                IsDeleted=False,
                SystemModstamp=TS,
            )
        ]
        self.customers = [
            dict(id=1001, code="CUST-0001", name="Client One", sf=acc(1), tax="US-EXEMPT", currency="USD")
        ]
        self.contracts = [self.contract_row(1, rate_card="RC-STD")]
        self.rate_cards = [
            ("RC-STD", "Consultant", "NA", "USD", "100.00", "2025-01-01", "2026-03-14"),
            ("RC-STD", "Consultant", "NA", "USD", "110.00", "2026-03-15", ""),
            ("RC-STD", "Senior Consultant", "NA", "USD", "150.00", "2025-01-01", ""),
            ("RC-PREM", "Consultant", "NA", "USD", "130.00", "2025-01-01", ""),
        ]
        self.tax_codes = [("US-EXEMPT", "US", "0%", "2020-01-01"), ("UK-VAT20", "GB", "20%", "2020-01-01")]
        self.fx = [("USD", "2025-01-01", "1.000000"), ("GBP", "2025-01-01", "1.250000")]
        self.workers = [self.worker_row(1)]
        self.resources = [dict(resource_id=1, hr_employee_id="E000001", role="Consultant", region="NA")]
        self.projects = [self.project_row(1, contract=con(1))]
        self.assignments: list[dict] = []
        self.entries: list[dict] = []
        self.invoices: list[dict] = []
        self.lines: list[dict] = []
        self.milestones: list[dict] = []
        self.holidays: list[tuple] = []  # (country, date, name)
        self.time_off: list[tuple] = []  # (employee id, date, hours, type)
        self.expenses: list[dict] = []
        self.payments: list[tuple] = []  # (payment id, invoice id, date, amount, currency)

    # --- builders -------------------------------------------------------------------------------
    @staticmethod
    def contract_row(
        n,
        rate_card="RC-STD",
        status="Activated",
        start="2025-01-01",
        end="2027-12-31",
        discount=None,
        nte=None,
        amends=None,
        currency="USD",
        billing="Time and Materials",
        account=1,
        modstamp=TS,
    ):
        return dict(
            Id=con(n),
            AccountId=acc(account),
            Opportunity__c=None,
            ContractNumber=f"{n:08d}",
            Status=status,
            StartDate=start,
            EndDate=end,
            Billing_Type__c=billing,
            Rate_Card__c=rate_card,
            Discount_Percent__c=discount,
            NTE_Hours__c=nte,
            CurrencyIsoCode=currency,
            Legal_Entity__c="US01",
            Amends__c=con(amends) if amends else None,
            IsDeleted=False,
            SystemModstamp=modstamp,
        )

    @staticmethod
    def worker_row(
        n, hire="2020-01-01", termination="", worker_type="Regular", cost="60.00", weekly="40", country="US"
    ):
        return dict(
            Employee_ID=f"E{n:06d}",
            Worker_Name=f"Worker {n}",
            Worker_Type=worker_type,
            Hire_Date=hire,
            Termination_Date=termination,
            Company="US01",
            Cost_Center="CC-4100",
            Cost_Center_Name="US01 Strategy",
            Country=country,
            Job_Profile="Consultant",
            Practice="Strategy",
            Scheduled_Weekly_Hours=weekly,
            Hourly_Cost_Rate=cost,
            Cost_Rate_Currency="USD",
            Skills="SQL",
            Manager_ID="",
        )

    @staticmethod
    def project_row(n, contract=None, billing_type="tm", status="active", account=1, currency="USD"):
        return dict(
            project_id=n,
            project_code=f"P-{n}",
            name=f"Project {n}",
            crm_account_id=acc(account),
            crm_contract_id=contract,
            legal_entity="US01",
            billing_type=billing_type,
            status=status,
            start_date=date(2025, 1, 1),
            end_date=None,
            currency=currency,
            practice="Strategy",
        )

    def entry(
        self,
        entry_id,
        work_date,
        minutes=480,
        status="approved",
        billable=True,
        project=1,
        resource=1,
        revision=1,
        deleted=False,
        approved=None,
    ):
        approved_at = datetime.fromisoformat(approved or f"{work_date}T18:00:00") if status == "approved" else None
        self.entries.append(
            dict(
                time_entry_id=entry_id,
                resource_id=resource,
                project_id=project,
                task_code="BUILD",
                date_performed=date.fromisoformat(work_date),
                time_in_minutes=minutes,
                billable=billable,
                status=status,
                submitted_at=datetime.fromisoformat(f"{work_date}T17:00:00"),
                approved_at=approved_at,
                approver_resource_id=None,
                notes=None,
                revision=revision,
                deleted_at=datetime(2026, 3, 30, 12) if deleted else None,
                updated_at=datetime(2026, 3, 30, 12)
                if deleted
                else (approved_at or datetime.fromisoformat(f"{work_date}T17:00:00")),
            )
        )
        return entry_id

    def invoice(self, inv_id, inv_date, lines, status="Open", customer=1001, currency="USD", batch_id=None, due=None):
        """``lines``: (item, time entry id, quantity, rate[, project code])."""
        self.invoices.append(
            dict(
                id=inv_id,
                number=f"INV-2026-{inv_id:06d}",
                customer=customer,
                date=inv_date,
                status=status,
                currency=currency,
                batch=batch_id,
                due=due or inv_date,
            )
        )
        for n, (item, te, qty, rate, *code) in enumerate(lines, start=1):
            amount = (Decimal(qty) * Decimal(rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            self.lines.append(
                dict(
                    inv=inv_id,
                    line=n,
                    item=item,
                    code=code[0] if code else "P-1",
                    qty=qty,
                    rate=rate,
                    amount=str(amount),
                    te=te,
                    date=inv_date,
                )
            )

    # --- writing --------------------------------------------------------------------------------
    def write(self) -> Path:
        r = self.root
        folder = r / "crm" / "20260101T000000Z"
        folder.mkdir(parents=True, exist_ok=True)
        for obj, recs in (("Account", self.accounts), ("Contract", self.contracts), ("Opportunity", [])):
            recs = [{"attributes": {"type": obj, "url": f"/x/{x['Id']}"}, **x} for x in recs]
            (folder / f"{obj}-00001.json").write_text(
                json.dumps({"totalSize": len(recs), "done": True, "records": recs})
            )
        hr = r / "hr"
        hr.mkdir(exist_ok=True)
        (hr / "workers_2026-01-01.json").write_text(json.dumps({"Report_Entry": self.workers}))
        (hr / "holidays_2026.json").write_text(
            json.dumps({"Report_Entry": [{"Country": c, "Date": d, "Name": n} for c, d, n in self.holidays]})
        )
        (hr / "time_off_2026-03-31.json").write_text(
            json.dumps(
                {"Report_Entry": [{"Employee_ID": e, "Date": d, "Hours": h, "Type": t} for e, d, h, t in self.time_off]}
            )
        )
        self._csv(
            "erp/subsidiaries_2026-01-01.csv",
            ["Internal ID", "Name", "Legal Entity Code", "Country", "Currency"],
            [(1, "Firm Inc.", "US01", "US", "USD")],
        )
        self._csv(
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
            [
                (c["id"], c["code"], c["name"], 1, c["currency"], c["sf"], c["tax"], "Net 30", "No", TS)
                for c in self.customers
            ],
        )
        self._csv(
            "erp/currency_rates_2026-01-01.csv",
            ["Base Currency", "Transaction Currency", "Effective Date", "Exchange Rate"],
            [("USD", *x) for x in self.fx],
        )
        self._csv(
            "erp/rate_cards_2026-01-01.csv",
            ["Rate Card ID", "Role", "Region", "Currency", "Hourly Rate", "Effective From", "Effective To"],
            self.rate_cards,
        )
        self._csv("erp/tax_codes_2026-01-01.csv", ["Tax Code", "Country", "Rate", "Effective From"], self.tax_codes)
        by_date: dict[str, list] = {}
        for inv in self.invoices:
            by_date.setdefault(inv["date"], []).append(inv)
        for day, invs in by_date.items():
            self._csv(
                f"erp/invoices_{day}.csv",
                [
                    "Internal ID",
                    "Document Number",
                    "Customer",
                    "Subsidiary",
                    "Date",
                    "Due Date",
                    "Currency",
                    "Exchange Rate",
                    "Status",
                    "Billing Batch ID",
                    "Memo",
                    "Date Created",
                    "Last Modified",
                ],
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
            self._csv(
                f"erp/invoice_lines_{day}.csv",
                [
                    "Invoice Internal ID",
                    "Line",
                    "Item",
                    "Project Code",
                    "Quantity",
                    "Rate",
                    "Amount",
                    "Tax Code",
                    "Tax Amount",
                    "PSA Time Entry ID",
                    "PSA Milestone ID",
                    "PSA Expense ID",
                    "Service Date",
                ],
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
                    for x in self.lines
                    if x["date"] == day
                ],
            )
        for day in sorted({p[2] for p in self.payments}):
            self._csv(
                f"erp/payments_{day}.csv",
                ["Internal ID", "Invoice Internal ID", "Date", "Amount", "Currency"],
                [p for p in self.payments if p[2] == day],
            )
        self._csv(
            "payroll/pay_periods.csv",
            ["Company", "Period ID", "Start Date", "End Date", "Lock Date"],
            [("US01", "US01-2026-03", "2026-03-01", "2026-03-31", "2026-04-10")],
        )
        self._psa()
        return r

    def _csv(self, rel: str, header: list[str], rows) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow(header)
            w.writerows(rows)

    def _psa(self) -> None:
        stamp = datetime(2026, 1, 1)
        res = pl.DataFrame(
            [
                {**x, "full_name": f"Resource {x['resource_id']}", "active": True, "updated_at": stamp}
                for x in self.resources
            ],
            schema_overrides={"hr_employee_id": pl.Utf8},
        )
        proj = pl.DataFrame(
            [{**p, "updated_at": stamp} for p in self.projects],
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
        asg = pl.DataFrame(
            [{**a, "hours_per_week": 40.0, "updated_at": stamp} for a in self.assignments], schema=asg_schema
        )
        te = pl.DataFrame(
            self.entries,
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
            f"sqlite:///{self.root / 'psa' / 'psa.db'}",
            {
                "resources": res,
                "projects": proj,
                "assignments": asg,
                "time_entries": te,
                "milestones": ms,
                "expenses": ex,
            },
        )
