"""Faulty landed files (ERP exports, CRM pages): billing holds the scope they can affect, never guesses.

Each case breaks one file of a generated estate the way it arrives broken in practice, runs the as-of date,
fixes the file, runs the next date, and checks the fail-closed promise against a clean run of the same estate.
"""

from __future__ import annotations

import json

import pytest

from tests.faults import (AS_OF, NEXT, backup, billed_customer, billed_tm_line, busiest, crm_page, latest,
                          ledger_keys, load_json, open_exception_text, read_csv, run, write_csv)
from tests.helpers import query


def drop_column(path, column):
    header, rows = read_csv(path)
    write_csv(path, [h for h in header if h != column], [{k: v for k, v in r.items() if k != column} for r in rows])


def set_value(path, index, column, value):
    header, rows = read_csv(path)
    rows[index][column] = value
    write_csv(path, header, rows)


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty(path):
    path.write_bytes(b"")


def null_record(path):
    doc = load_json(path)
    doc["records"].insert(1, None)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _invoice_lines_without_quantity(landing):
    path = busiest(landing, "erp/invoice_lines_*.csv")
    return path, lambda: drop_column(path, "Quantity")


def _quantity_with_thousands_separator(landing):
    path, i = billed_tm_line(landing)
    return path, lambda: set_value(path, i, "Quantity", "1,006.40")


def _truncated_contract_page(landing):
    path = crm_page(landing, "Contract")
    return path, lambda: truncate(path)


def _empty_account_page(landing):
    path = crm_page(landing, "Account")
    return path, lambda: empty(path)


def _customer_inactive_n(landing):
    path, i, _ = billed_customer(landing)
    return path, lambda: set_value(path, i, "Inactive", "N")


def _null_in_crm_records(landing):
    path = crm_page(landing, "Contract")
    return path, lambda: null_record(path)


def _rate_card_bad_rate(landing):
    path = latest(landing, "erp/rate_cards_*.csv")
    return path, lambda: set_value(path, 0, "Hourly Rate", "1.5k")


def _invoices_file_truncated(landing):
    path = busiest(landing, "erp/invoices_*.csv")
    return path, lambda: truncate(path)


def _tax_codes_without_rate(landing):
    path = latest(landing, "erp/tax_codes_*.csv")
    return path, lambda: drop_column(path, "Rate")


def _currency_rate_bad_date(landing):
    path = latest(landing, "erp/currency_rates_*.csv")
    return path, lambda: set_value(path, 1, "Effective Date", "2026-02-30")


FAULTS = {
    "invoice lines file without its Quantity column": _invoice_lines_without_quantity,
    "an invoice line's Quantity 1,006.40": _quantity_with_thousands_separator,
    "the latest CRM Contract page truncated": _truncated_contract_page,
    "the latest CRM Account page empty (0 bytes)": _empty_account_page,
    "Inactive='N' in the latest customers snapshot": _customer_inactive_n,
    "a null element in a CRM page's records": _null_in_crm_records,
    # variants: other files, other columns, other objects
    "a rate card row with Hourly Rate 1.5k": _rate_card_bad_rate,
    "an invoices file cut in half": _invoices_file_truncated,
    "a tax codes file without its Rate column": _tax_codes_without_rate,
    "a currency rate dated 2026-02-30": _currency_rate_bad_date,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_holds_billing_until_fixed(fault, faulty, clean_billing):
    landing, wh, out = faulty
    path, breaks = FAULTS[fault](landing)
    good = backup(path)
    rel = path.relative_to(landing).as_posix()
    breaks()

    held = run(landing, wh, AS_OF, out)
    billed = ledger_keys(wh, AS_OF)
    assert held.result.success, held.verdict
    assert billed <= clean_billing[AS_OF], f"{fault}: billed what a clean run would not: {sorted(billed - clean_billing[AS_OF])[:5]}"
    assert held.code == 3 and rel in held.verdict, held.verdict
    assert rel in open_exception_text(wh)
    holds = query(wh, "SELECT count(*) FROM recon.billing_holds WHERE as_of_date = ? AND file = ?", [AS_OF, rel])
    assert holds[0][0] > 0
    # recon decides nothing it cannot: every entry the clean run bills but this one held is marked, not UNBILLED
    withheld = clean_billing[AS_OF] - billed
    if withheld:
        statuses = query(wh, """SELECT DISTINCT recon_status, reason FROM recon.time_to_bill
                                WHERE as_of_date = ? AND 'PS-TM-HOURS:' || time_entry_id || ':' || revision IN
                                (SELECT unnest(?::VARCHAR[]))""", [AS_OF, sorted(withheld)])
        assert set(statuses) <= {("INELIGIBLE", "INPUT_HELD")}, statuses

    path.write_bytes(good)  # the source re-delivers the file, corrected
    fixed = run(landing, wh, NEXT, out)
    assert fixed.code == 0, fixed.verdict
    assert ledger_keys(wh) == clean_billing[AS_OF] | clean_billing[NEXT], fault
    assert rel not in open_exception_text(wh)


def test_corrected_customers_file_supersedes_without_duplicates(faulty, clean_billing):
    landing, wh, out = faulty
    assert run(landing, wh, AS_OF, out).code == 0
    path, i, customer = billed_customer(landing)
    set_value(path, i, "Company Name", "Renamed Holdings")  # a correction re-delivered under the same name
    assert run(landing, wh, NEXT, out).code == 0
    rows, entries = query(wh, "SELECT count(*), count(DISTINCT time_entry_id) FROM recon.time_to_bill "
                              "WHERE as_of_date = ?", [NEXT])[0]
    assert rows == entries
    names = query(wh, "SELECT company_name FROM canonical.customer_asof(?) WHERE customer_id = ?", [NEXT, int(customer)])
    assert names == [("Renamed Holdings",)]
    assert ledger_keys(wh) == clean_billing[AS_OF] | clean_billing[NEXT]


def test_corrected_invoice_lines_file_is_applied(faulty):
    landing, wh, out = faulty
    run(landing, wh, AS_OF, out)
    path, i = billed_tm_line(landing)
    header, rows = read_csv(path)
    entry = int(rows[i]["PSA Time Entry ID"])
    rows[i]["Quantity"] = f"{float(rows[i]['Quantity']) + 1:.2f}"  # the ERP corrects the line: one hour more
    write_csv(path, header, rows)
    run(landing, wh, NEXT, out)
    billed, status = query(wh, "SELECT billed_quantity, recon_status FROM recon.time_to_bill "
                               "WHERE as_of_date = ? AND time_entry_id = ?", [NEXT, entry])[0]
    assert str(billed) == rows[i]["Quantity"] and status == "HOURS_MISMATCH"


def test_snapshot_returning_to_earlier_bytes_is_in_force(faulty):
    """A, B, A: the third snapshot has the first one's exact bytes under a new name; it is the state from then."""
    landing, wh, out = faulty
    a = latest(landing, "erp/customers_*.csv")
    header, rows = read_csv(a)
    customer = rows[0]["Internal ID"]
    original = rows[0]["Tax Code"]
    b = a.with_name("customers_2026-10-01.csv")
    rows[0]["Tax Code"] = "CHANGED-TAX"
    write_csv(b, header, rows)
    a.with_name("customers_2026-10-02.csv").write_bytes(a.read_bytes())
    run(landing, wh, NEXT, out)
    for day, expected in ((NEXT, "CHANGED-TAX"), (NEXT.replace(day=2), original)):
        got = query(wh, "SELECT tax_code FROM canonical.customer_asof(?) WHERE customer_id = ?", [day, int(customer)])
        assert got == [(expected,)], day


def test_fixed_file_redelivered_after_a_rejection(faulty, clean_billing):
    landing, wh, out = faulty
    path = latest(landing, "erp/customers_*.csv")
    good = backup(path)
    drop_column(path, "Internal ID")
    assert run(landing, wh, AS_OF, out).code == 3
    assert ledger_keys(wh, AS_OF) == set()
    path.write_bytes(good)
    assert run(landing, wh, NEXT, out).code == 0
    customers, distinct = query(wh, "SELECT count(*), count(DISTINCT customer_id) FROM canonical.customer_asof(?)",
                                [NEXT])[0]
    assert customers == distinct
    assert ledger_keys(wh) == clean_billing[AS_OF] | clean_billing[NEXT]
