"""Each rule of recon.time_to_bill, pinned on hand-built estates whose answers are computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from tests.helpers import materialize_as_of
from tests.scenario import Scenario, acc, con

AS_OF = "2026-03-31"
TM = "PS-TM-HOURS"


def run(s: Scenario, tmp_path, as_of=AS_OF) -> dict[int, dict]:
    s.write()
    wh = tmp_path / "wh.duckdb"
    assert materialize_as_of(s.root, wh, as_of).success
    c = duckdb.connect(str(wh), read_only=True)
    try:
        rows = c.sql("SELECT * FROM recon.time_to_bill WHERE as_of_date = $d", params={"d": as_of}).pl()
    finally:
        c.close()
    return {r["time_entry_id"]: r for r in rows.iter_rows(named=True)}


def status(rows, entry):
    r = rows[entry]
    return r["recon_status"], r["reason"], r["owner"]


def test_each_status_reason_and_owner_and_their_precedence(scenario, tmp_path):
    s = scenario
    # more people and projects
    s.workers += [Scenario.worker_row(3, termination="2026-03-10")]
    s.resources += [
        dict(resource_id=2, hr_employee_id=None, role="Consultant", region="NA"),
        dict(resource_id=3, hr_employee_id="E000003", role="Consultant", region="NA"),
    ]
    s.accounts.append({**s.accounts[0], "Id": acc(2), "Name": "Client Two", "ERP_Customer_Id__c": None})
    s.contracts += [
        Scenario.contract_row(2, billing="Fixed Fee"),
        Scenario.contract_row(3),
        Scenario.contract_row(4),
        Scenario.contract_row(5, end="2026-03-05"),
        Scenario.contract_row(6, account=2),
    ]
    s.projects += [
        Scenario.project_row(2, contract=con(2), billing_type="fixed_fee"),
        Scenario.project_row(3, contract=con(3), status="on_hold"),
        Scenario.project_row(4, contract=con(4), status="closed"),
        Scenario.project_row(5, contract=con(5)),
        Scenario.project_row(6, contract=con(6), account=2),
        Scenario.project_row(7, billing_type="non_billable"),
    ]
    s.entry(1, "2026-03-02")
    s.entry(2, "2026-03-03")
    s.entry(3, "2026-03-02", deleted=True)
    s.entry(4, "2026-03-02", billable=False)
    s.entry(5, "2026-03-02")
    s.entry(6, "2026-03-02", minutes=420, revision=2)
    s.entry(7, "2026-03-02")
    s.entry(8, "2026-03-09", billable=False)
    s.entry(9, "2026-03-09", project=2)
    s.entry(10, "2026-03-09", resource=2)
    s.entry(11, "2026-03-12", resource=3)
    s.entry(12, "2026-03-09", project=3)
    s.entry(13, "2026-03-09", project=4)
    s.entry(14, "2026-03-09", project=5)
    s.entry(15, "2026-03-09", project=6)
    s.entry(16, "2026-03-09", resource=2, project=3)  # unmapped employee wins over the project on hold
    s.entry(17, "2026-03-09", project=7)
    s.entry(18, "2026-03-09", status="submitted")  # not in scope: neither approved nor billed
    s.entry(19, "2026-03-02", status="rejected")  # rejected after billing
    s.invoice(
        500,
        "2026-03-05",
        [
            (TM, 1, "8.00", "100.0000"),
            (TM, 3, "8.00", "100.0000"),
            (TM, 3, "8.00", "90.0000"),
            (TM, 4, "8.00", "100.0000"),
            (TM, 5, "8.00", "100.0000"),
            (TM, 5, "8.00", "95.0000"),
            (TM, 6, "8.00", "97.0000"),
            (TM, 7, "8.00", "105.0000"),
            (TM, 19, "8.00", "100.0000"),
        ],
    )
    rows = run(s, tmp_path)
    expected = {
        1: ("BILLED_OK", None, None),
        2: ("UNBILLED", None, None),
        3: ("NOT_APPROVED_BILLED", None, "finance"),
        19: ("NOT_APPROVED_BILLED", None, "finance"),
        4: ("NOT_BILLABLE_BILLED", None, "finance"),
        5: ("DUPLICATE_BILLED", None, "finance"),
        6: ("HOURS_MISMATCH", None, "finance"),
        7: ("RATE_MISMATCH", None, "finance"),
        8: ("NON_BILLABLE", None, None),
        9: ("FIXED_FEE", None, None),
        17: ("NON_BILLABLE", None, None),
        10: ("INELIGIBLE", "UNMAPPED_EMPLOYEE", "hr"),
        11: ("INELIGIBLE", "OUTSIDE_EMPLOYMENT", "hr"),
        12: ("INELIGIBLE", "PROJECT_ON_HOLD", "delivery"),
        13: ("INELIGIBLE", "PROJECT_CLOSED", "delivery"),
        14: ("INELIGIBLE", "NO_ACTIVE_CONTRACT", "finance"),
        15: ("INELIGIBLE", "UNMAPPED_CUSTOMER", "finance"),
        16: ("INELIGIBLE", "UNMAPPED_EMPLOYEE", "hr"),
    }
    assert {e: status(rows, e) for e in rows} == expected
    assert rows[5]["amount_at_risk"] == Decimal("760.00"), "the second line of a duplicate is the money at risk"
    assert rows[6]["amount_at_risk"] == Decimal("97.00"), "one hour billed too many at the billed rate"
    assert rows[7]["amount_at_risk"] == Decimal("40.00")
    assert rows[3]["billed_line_count"] == 2 and rows[3]["invoice_numbers"] == "INV-2026-000500"
    assert rows[2]["age_days"] == 28 and rows[2]["amount_at_risk"] == 0
    assert rows[12]["amount_at_risk"] == Decimal("800.00") and rows[12]["age_days"] == 22


def test_missing_rate_billed_and_unbilled(scenario, tmp_path):
    s = scenario
    s.resources += [dict(resource_id=2, hr_employee_id="E000002", role="Manager", region="NA")]
    s.workers.append(Scenario.worker_row(2))
    s.entry(1, "2026-03-02", resource=2)
    s.entry(2, "2026-03-20", resource=2)
    s.invoice(500, "2026-03-05", [(TM, 1, "8.00", "200.0000")])
    rows = run(s, tmp_path)
    assert status(rows, 1) == ("RATE_MISMATCH", "MISSING_RATE", "finance")
    assert status(rows, 2) == ("INELIGIBLE", "MISSING_RATE", "finance")
    assert rows[1]["expected_rate"] is None and rows[1]["amount_at_risk"] == Decimal("1600.00")


def test_rates_rate_card_change_amendment_discount_and_assignment_role(scenario, tmp_path):
    s = scenario
    # contract 2: 12.5% discount; amended from 2026-03-20 onto the premium card without discount;
    # a draft amendment is ignored
    s.contracts += [
        Scenario.contract_row(2, discount=12.5),
        Scenario.contract_row(3, amends=2, start="2026-03-20", rate_card="RC-PREM", discount=None),
        Scenario.contract_row(4, amends=2, start="2026-03-25", status="Draft", discount=50),
    ]
    s.projects.append(Scenario.project_row(2, contract=con(2)))
    s.assignments.append(
        dict(
            assignment_id=1,
            project_id=2,
            resource_id=1,
            role="Senior Consultant",
            start_date=date(2026, 3, 23),
            end_date=date(2026, 3, 24),
        )
    )
    s.entry(1, "2026-03-13")  # old card rate
    s.entry(2, "2026-03-16", minutes=50)  # new card rate from 03-15; 0.83 h
    s.entry(3, "2026-03-16", project=2)  # 110 x (1 - 12.5%) = 96.25
    s.entry(4, "2026-03-19", project=2, minutes=50)  # 0.83 x 96.25 = 79.8875 -> 79.89
    s.entry(5, "2026-03-20", project=2)  # amendment: premium card, no discount
    s.entry(6, "2026-03-23", project=2)  # assignment role Senior Consultant, but the premium card lacks it
    s.entry(7, "2026-03-26", project=2)  # draft amendment ignored
    rows = run(s, tmp_path)
    rates = {e: (rows[e]["expected_rate"], rows[e]["expected_amount"]) for e in rows}
    assert rates[1] == (Decimal("100.0000"), Decimal("800.00"))
    assert rates[2] == (Decimal("110.0000"), Decimal("91.30"))
    assert rates[3] == (Decimal("96.2500"), Decimal("770.00"))
    assert rates[4] == (Decimal("96.2500"), Decimal("79.89"))
    assert rates[5] == (Decimal("130.0000"), Decimal("1040.00"))
    assert rows[6]["role"] == "Senior Consultant" and status(rows, 6) == ("INELIGIBLE", "MISSING_RATE", "finance")
    assert rates[7] == (Decimal("130.0000"), Decimal("1040.00"))
    assert rows[5]["quantity"] == Decimal("8.00") and rows[4]["quantity"] == Decimal("0.83")


def test_same_day_ties_in_effective_dating_resolve_one_way(scenario, tmp_path):
    s = scenario
    # two rate card rows of one key effective the same day: the lower rate governs
    s.rate_cards += [
        ("RC-TIE", "Consultant", "NA", "USD", "120.00", "2026-03-01", ""),
        ("RC-TIE", "Consultant", "NA", "USD", "115.00", "2026-03-01", ""),
    ]
    # two Activated amendments of contract 2 starting the same day: the higher contract id (6) governs
    s.contracts += [
        Scenario.contract_row(2, rate_card="RC-TIE"),
        Scenario.contract_row(5, amends=2, start="2026-03-20", rate_card="RC-STD", discount=10),
        Scenario.contract_row(6, amends=2, start="2026-03-20", rate_card="RC-STD", discount=20),
    ]
    s.projects.append(Scenario.project_row(2, contract=con(2)))
    # overlapping assignments on project 1: the higher assignment id governs while both cover the day
    s.assignments += [
        dict(
            assignment_id=10,
            project_id=1,
            resource_id=1,
            role="Senior Consultant",
            start_date=date(2026, 3, 2),
            end_date=date(2026, 3, 31),
        ),
        dict(
            assignment_id=11,
            project_id=1,
            resource_id=1,
            role="Consultant",
            start_date=date(2026, 3, 9),
            end_date=date(2026, 3, 11),
        ),
    ]
    s.entry(1, "2026-03-05", project=2)  # RC-TIE: 115.00, not 120.00
    s.entry(2, "2026-03-23", project=2)  # amendment 6: RC-STD 110.00 x (1 - 20%) = 88.00
    s.entry(3, "2026-03-10")  # assignments 10 and 11 both cover the day: 11 (Consultant) -> 100.00
    s.entry(4, "2026-03-12")  # only assignment 10: Senior Consultant -> 150.00
    s.entry(5, "2026-03-02")  # assignment 10 from its first day -> 150.00
    rows = run(s, tmp_path)
    got = {e: (rows[e]["role"], rows[e]["expected_rate"]) for e in rows}
    assert got[1] == ("Consultant", Decimal("115.0000"))
    assert got[2] == ("Consultant", Decimal("88.0000")) and rows[2]["amendment_id"] == con(6)
    assert got[3] == ("Consultant", Decimal("100.0000"))
    assert got[4] == ("Senior Consultant", Decimal("150.0000"))
    assert got[5] == ("Senior Consultant", Decimal("150.0000"))


def test_voided_invoices_do_not_bill_and_adjustments_net(scenario, tmp_path):
    s = scenario
    s.entry(1, "2026-03-02")
    s.entry(2, "2026-03-02", minutes=420, revision=2)
    s.invoice(500, "2026-03-05", [(TM, 1, "8.00", "100.0000")], status="Voided")
    s.invoice(501, "2026-03-05", [(TM, 2, "8.00", "100.0000")])
    s.invoice(502, "2026-03-20", [("PS-ADJUSTMENT", 2, "-1.00", "100.0000")])
    rows = run(s, tmp_path)
    assert status(rows, 1) == ("UNBILLED", None, None)
    assert status(rows, 2) == ("BILLED_OK", None, None)
    assert rows[2]["billed_quantity"] == Decimal("7.00") and rows[2]["billed_line_count"] == 2
    assert rows[2]["billed_rate"] == Decimal("100.0000")


def test_not_to_exceed_cap_splits_the_crossing_entry(scenario, tmp_path):
    s = scenario
    s.contracts[0]["NTE_Hours__c"] = 20
    s.contracts.append(Scenario.contract_row(2, nte=0))
    s.projects.append(Scenario.project_row(2, contract=con(2)))
    s.entry(1, "2026-03-02")  # billed: 8 h consumed
    s.entry(2, "2026-03-03")
    s.entry(4, "2026-03-04")
    s.entry(3, "2026-03-05")  # order by date, then id
    s.entry(5, "2026-03-03", project=2)
    s.invoice(500, "2026-03-05", [(TM, 1, "8.00", "100.0000")])
    rows = run(s, tmp_path)
    assert status(rows, 2) == ("UNBILLED", None, None)  # 8 + 8 = 16 <= 20
    assert status(rows, 4) == ("UNBILLED", "PARTIAL_CAP", None)  # 16 + 8 crosses 20: 4 h fit
    assert rows[4]["capped_quantity"] == Decimal("4.00") and rows[4]["amount_at_risk"] == Decimal("400.00")
    assert status(rows, 3) == ("OVER_CAP", None, "delivery")
    assert rows[3]["amount_at_risk"] == Decimal("800.00")
    assert status(rows, 5) == ("OVER_CAP", None, "delivery"), "a cap of 0 hours stops everything"


def test_reporting_currency_conversion(scenario, tmp_path):
    s = scenario
    s.customers.append(dict(id=1002, code="CUST-0002", name="UK Client", sf=acc(2), tax="UK-VAT20", currency="GBP"))
    s.accounts.append(
        {**s.accounts[0], "Id": acc(2), "Name": "UK Client", "ERP_Customer_Id__c": "1002", "CurrencyIsoCode": "GBP"}
    )
    s.rate_cards.append(("RC-UK", "Consultant", "NA", "GBP", "80.00", "2025-01-01", ""))
    s.contracts.append(Scenario.contract_row(2, account=2, currency="GBP", rate_card="RC-UK", end="2026-03-01"))
    s.projects.append(Scenario.project_row(2, contract=con(2), account=2, currency="GBP"))
    s.entry(1, "2026-03-09", project=2)  # contract ended: ineligible, 640.00 GBP at risk
    rows = run(s, tmp_path)
    assert status(rows, 1) == ("INELIGIBLE", "NO_ACTIVE_CONTRACT", "finance")
    assert rows[1]["expected_rate"] is None
    # no version in force means no rate either: nothing at risk can be valued
    assert rows[1]["amount_at_risk"] is None


def test_approved_or_billed_hours_on_a_project_the_psa_lacks_are_held_for_delivery_until_the_project_arrives(
    scenario, tmp_path
):
    """An entry reconciles in its project's legal entity: on a project id the PSA does not have, no entity's run
    would see it and its hours would vanish from every table, approved hours never billed and billed hours alike.
    They are one exception, for delivery, naming them."""
    s = scenario
    s.entry(1, "2026-03-02")
    s.entry(2, "2026-03-03", project=99)
    s.entry(3, "2026-03-04", project=99, minutes=90)
    s.entry(4, "2026-03-05", project=99, status="submitted")  # not approved, not billed: nothing to lose yet
    s.entry(5, "2026-03-05", project=99, status="submitted", minutes=120)
    s.invoice(500, "2026-03-06", [(TM, 5, "2.00", "200.0000")])  # billed before approval, on a code the PSA knows
    rows = run(s, tmp_path)
    assert status(rows, 1) == ("UNBILLED", None, None)
    assert set(rows) == {1}
    wh = str(tmp_path / "wh.duckdb")
    open_ = "SELECT owner, rule, message FROM ops.exceptions WHERE resolved_at IS NULL AND rule LIKE '%unknown_project'"
    c = duckdb.connect(wh, read_only=True)
    [(owner, rule, message)] = c.execute(open_).fetchall()
    c.close()
    assert (owner, rule) == ("delivery", "BILLING_HELD:unknown_project")
    assert "3 approved or billed PSA time entries (11.5 h; entries 2, 3, 5) on project id 99, which is not" in message

    s.projects.append(Scenario.project_row(99))  # the PSA gains the project: the entries reconcile, the hold ends
    rows = run(s, tmp_path)
    assert {e: status(rows, e)[0] for e in rows} == {
        1: "UNBILLED",
        2: "INELIGIBLE",
        3: "INELIGIBLE",
        5: "NOT_APPROVED_BILLED",
    }
    c = duckdb.connect(wh, read_only=True)
    assert c.execute(open_).fetchall() == []
    c.close()
