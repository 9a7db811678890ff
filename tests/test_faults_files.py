"""Faulty landed files (ERP exports, CRM pages): billing holds the scope they can affect, never guesses.

Each case breaks one file of a generated estate the way it arrives broken in practice, runs the as-of date,
fixes the file, runs the next date, and checks the fail-closed promise against a clean run of the same estate.
"""

from __future__ import annotations

import json

import pytest

from tests.faults import (
    AS_OF,
    NEXT,
    backup,
    billed_customer,
    billed_tm_line,
    busiest,
    crm_page,
    latest,
    ledger_keys,
    load_json,
    open_exception_text,
    read_csv,
    run,
    write_csv,
)
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
    assert billed <= clean_billing[AS_OF], (
        f"{fault}: billed what a clean run would not: {sorted(billed - clean_billing[AS_OF])[:5]}"
    )
    assert held.code == 3 and rel in held.verdict, held.verdict
    assert rel in open_exception_text(wh)
    holds = query(wh, "SELECT count(*) FROM recon.billing_holds WHERE as_of_date = ? AND file = ?", [AS_OF, rel])
    assert holds[0][0] > 0
    # recon decides nothing it cannot: every entry the clean run bills but this one held is marked, not UNBILLED
    withheld = clean_billing[AS_OF] - billed
    if withheld:
        statuses = query(
            wh,
            """SELECT DISTINCT recon_status, reason FROM recon.time_to_bill
                                WHERE as_of_date = ? AND 'PS-TM-HOURS:' || time_entry_id || ':' || revision IN
                                (SELECT unnest(?::VARCHAR[]))""",
            [AS_OF, sorted(withheld)],
        )
        assert set(statuses) <= {("INELIGIBLE", "INPUT_HELD")}, statuses

    path.write_bytes(good)  # the source re-delivers the file, corrected
    fixed = run(landing, wh, NEXT, out)
    assert fixed.code == 0, fixed.verdict
    assert ledger_keys(wh) == clean_billing[AS_OF] | clean_billing[NEXT], fault
    assert rel not in open_exception_text(wh)
