"""Hand-built estates: a few records in every source format, for tests whose answer is computed by hand.

Defaults: legal entity US01 (USD, no tax), client A1 <-> customer 1001, rate card RC-STD
(Consultant NA 100.00 until 2026-03-14, 110.00 from 2026-03-15), root contract C1 (T&M, RC-STD),
employee E000001 <-> resource 1 (Consultant, NA), project 1 (P-1, T&M, contract C1).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from estate.ids import sf_id
from tests.scenario_files import TS, write_files


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

    def write(self) -> Path:
        """Write every source of the scenario under its root (tests/scenario_files.py)."""
        return write_files(self)
