"""Re-delivery by name and content: a corrected file supersedes, a snapshot that returns to earlier bytes is in
force, a fixed file after a rejection loads once; nothing is duplicated and billing follows the correction."""

from __future__ import annotations

import os

import assets.extract.loader as loader
from tests.faults import (
    AS_OF,
    NEXT,
    backup,
    billed_customer,
    billed_tm_line,
    latest,
    ledger_keys,
    read_csv,
    run,
    write_csv,
)
from tests.helpers import query
from tests.test_faults_files import drop_column, set_value


def test_corrected_customers_file_supersedes_without_duplicates(faulty, clean_billing):
    landing, wh, out = faulty
    assert run(landing, wh, AS_OF, out).code == 0
    path, i, customer = billed_customer(landing)
    set_value(path, i, "Company Name", "Renamed Holdings")  # a correction re-delivered under the same name
    assert run(landing, wh, NEXT, out).code == 0
    rows, entries = query(
        wh, "SELECT count(*), count(DISTINCT time_entry_id) FROM recon.time_to_bill WHERE as_of_date = ?", [NEXT]
    )[0]
    assert rows == entries
    names = query(
        wh, "SELECT company_name FROM canonical.customer_asof(?) WHERE customer_id = ?", [NEXT, int(customer)]
    )
    assert names == [("Renamed Holdings",)]
    assert ledger_keys(wh) == clean_billing[AS_OF] | clean_billing[NEXT]


def test_only_a_file_whose_stat_changed_is_read_again_and_a_same_size_same_time_correction_is_seen(faulty, monkeypatch):
    """A run does not hash files it has read under the same size, modification and change times; a correction of
    the same size written back with the old modification time still changes the change time, so it is read."""
    landing, wh, out = faulty
    run(landing, wh, AS_OF, out)
    hashed, real = [], loader.file_sha256
    monkeypatch.setattr(loader, "file_sha256", lambda p: hashed.append(p.name) or real(p))
    assert run(landing, wh, AS_OF, out).code == 0
    assert hashed == []
    path, i, customer = billed_customer(landing)
    before = path.stat()
    _, rows = read_csv(path)
    name = rows[i]["Company Name"]
    renamed = "".join("Z" if c.isalnum() else c for c in name)
    lines = path.read_bytes().split(b"\n")  # the bytes edited in place: the same length
    assert name.encode() in lines[i + 1]
    lines[i + 1] = lines[i + 1].replace(name.encode(), renamed.encode(), 1)
    path.write_bytes(b"\n".join(lines))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert run(landing, wh, NEXT, out).code == 0
    assert hashed == [path.name]
    names = query(
        wh, "SELECT company_name FROM canonical.customer_asof(?) WHERE customer_id = ?", [NEXT, int(customer)]
    )
    assert names == [(renamed,)]


def test_corrected_invoice_lines_file_is_applied(faulty):
    landing, wh, out = faulty
    run(landing, wh, AS_OF, out)
    path, i = billed_tm_line(landing)
    header, rows = read_csv(path)
    entry = int(rows[i]["PSA Time Entry ID"])
    rows[i]["Quantity"] = f"{float(rows[i]['Quantity']) + 1:.2f}"  # the ERP corrects the line: one hour more
    write_csv(path, header, rows)
    run(landing, wh, NEXT, out)
    billed, status = query(
        wh,
        "SELECT billed_quantity, recon_status FROM recon.time_to_bill WHERE as_of_date = ? AND time_entry_id = ?",
        [NEXT, entry],
    )[0]
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
    customers, distinct = query(
        wh, "SELECT count(*), count(DISTINCT customer_id) FROM canonical.customer_asof(?)", [NEXT]
    )[0]
    assert customers == distinct
    assert ledger_keys(wh) == clean_billing[AS_OF] | clean_billing[NEXT]
