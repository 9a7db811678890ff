"""Status back to the CRM, on a hand-built estate whose rows are computed by hand: one account and its capped
contract, two invoices (one overdue and part paid), an unbilled entry, one entry billed at the wrong rate."""

from __future__ import annotations

import csv

from assets.crm.assets import crm_assets
from tests.helpers import all_assets, materialize_as_of
from tests.scenario import Scenario, acc, con

TM = "PS-TM-HOURS"
ASSETS = [*all_assets(marts=True), *crm_assets]


def _scenario(root) -> Scenario:
    s = Scenario(root)
    # contract 2 has no cap and no work yet
    s.contracts = [Scenario.contract_row(1, rate_card="RC-STD", nte=100), Scenario.contract_row(2)]
    s.entry(1, "2026-03-02")  # 8 h at 100.00 (before 2026-03-15)
    s.entry(2, "2026-03-03")
    s.entry(3, "2026-03-20", minutes=240)  # 4 h at 110.00, approved, never invoiced: unbilled WIP 440.00
    s.entry(4, "2026-03-16")  # 8 h at 110.00
    s.entry(5, "2026-03-17")  # 8 h billed at 100.00 instead of 110.00: RATE_MISMATCH, an open exception
    # invoice 1: 1,600.00, due 2026-03-20, 500.00 paid on 2026-03-25 -> 1,100.00 open and overdue on 2026-03-31
    s.invoice(1, "2026-03-05", [(TM, 1, "8.00", "100.00"), (TM, 2, "8.00", "100.00")], due="2026-03-20")
    s.payments.append((9001, 1, "2026-03-25", "500.00", "USD"))
    # invoice 2: 880.00 + 800.00 = 1,680.00, due 2026-04-27: open, not overdue
    s.invoice(2, "2026-03-28", [(TM, 4, "8.00", "110.00"), (TM, 5, "8.00", "100.00")], due="2026-04-27")
    return s


def _read(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_account_and_contract_rows_are_what_finance_knows_and_only_changes_are_sent(tmp_path):
    s = _scenario(tmp_path / "landing")
    s.write()
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    assert materialize_as_of(s.root, wh, "2026-03-31", assets=ASSETS, outputs=out).success
    account_file, contract_file = out / "crm" / "Account-20260331.csv", out / "crm" / "Contract-20260331.csv"
    assert _read(account_file) == [
        {
            "Id": acc(1),
            "Pssync_Billed_To_Date__c": "3280.00",
            "Pssync_Open_Receivables__c": "2780.00",
            "Pssync_Overdue_Receivables__c": "1100.00",
            "Pssync_Unbilled_WIP__c": "440.00",
            "Pssync_Open_Exceptions__c": "1",
            "Pssync_Currency__c": "USD",
        }
    ]
    assert _read(contract_file) == [
        {
            "Id": con(1),
            "Pssync_Billed_To_Date__c": "3280.00",
            "Pssync_Billed_Hours__c": "32.00",
            "Pssync_Unbilled_WIP__c": "440.00",
            "Pssync_Remaining_NTE_Hours__c": "68.00",  # 100 - 32 billed
            "Pssync_Open_Exceptions__c": "1",
            "Pssync_Currency__c": "USD",
        },
        {
            "Id": con(2),
            "Pssync_Billed_To_Date__c": "0.00",
            "Pssync_Billed_Hours__c": "0.00",
            "Pssync_Unbilled_WIP__c": "0.00",
            "Pssync_Remaining_NTE_Hours__c": "#N/A",  # no cap: Bulk API 2.0's way of clearing the field
            "Pssync_Open_Exceptions__c": "0",
            "Pssync_Currency__c": "USD",
        },
    ]
    first = {p.name: p.read_bytes() for p in (account_file, contract_file)}
    assert (
        first["Account-20260331.csv"].startswith(b"Id,Pssync_Billed_To_Date__c,")
        and b"\r" not in first["Account-20260331.csv"]
    )

    # the next day nothing changed: only the headers
    assert materialize_as_of(s.root, wh, "2026-04-01", assets=ASSETS, outputs=out).success
    assert _read(out / "crm" / "Account-20260401.csv") == [] and _read(out / "crm" / "Contract-20260401.csv") == []

    # a payment of invoice 2 arrives: the account's receivables change, the contract's figures do not
    s.payments.append((9002, 2, "2026-04-02", "1680.00", "USD"))
    s.write()
    assert materialize_as_of(s.root, wh, "2026-04-02", assets=ASSETS, outputs=out).success
    [row] = _read(out / "crm" / "Account-20260402.csv")
    assert (row["Pssync_Open_Receivables__c"], row["Pssync_Overdue_Receivables__c"]) == ("1100.00", "1100.00")
    assert _read(out / "crm" / "Contract-20260402.csv") == []

    # replaying the first date writes the same bytes
    replay = tmp_path / "replay"
    assert materialize_as_of(s.root, wh, "2026-03-31", assets=ASSETS, outputs=replay).success
    assert {p.name: p.read_bytes() for p in (replay / "crm").glob("*.csv")} == first
