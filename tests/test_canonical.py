"""Canonical: typed, keyed, effective-dated, under contracts, readable as of any date."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from tests.conftest import manifest
from tests.helpers import materialize_canonical, query


def q(wh, sql, *params):
    return query(wh, sql, list(params))


@pytest.fixture
def built(estate_copy, tmp_path):
    wh = tmp_path / "wh.duckdb"
    result = materialize_canonical(estate_copy, wh)
    assert result.success
    return estate_copy, wh, result


def test_crosswalk_gaps_are_exactly_the_injected_unmapped_employees_and_customers(built):
    landing, wh, _ = built
    m = manifest(landing)
    resources = q(
        wh, "SELECT resource_id, match_status FROM canonical.xwalk_resource_employee WHERE match_status <> 'MATCHED'"
    )
    assert {r for r, _ in resources} == {u["resource_id"] for u in m["unmapped_employees"]}
    expected = {
        u["resource_id"]: ("UNKNOWN_HR_ID" if u["hr_employee_id"] else "NO_HR_ID") for u in m["unmapped_employees"]
    }
    assert dict(resources) == expected
    clients = q(wh, "SELECT crm_account_id FROM canonical.xwalk_client_customer WHERE match_status <> 'MATCHED'")
    assert {c for (c,) in clients} == {u["crm_account_id"] for u in m["unmapped_customers"]}
    gaps = q(
        wh, "SELECT object, count(*) FROM ops.exceptions WHERE source = 'crosswalk' AND resolved_at IS NULL GROUP BY 1"
    )
    assert dict(gaps) == {
        "xwalk_resource_employee": len(m["unmapped_employees"]),
        "xwalk_client_customer": len(m["unmapped_customers"]),
    }


def test_employee_history_reproduces_each_hr_change_on_its_date(built):
    landing, wh, _ = built
    changes = manifest(landing)["hr_changes"]
    assert changes
    column = {
        "Hourly_Cost_Rate": "hourly_cost_rate",
        "Practice": "practice",
        "Scheduled_Weekly_Hours": "scheduled_weekly_hours",
        "Job_Profile": "job_profile",
    }
    for ch in changes:
        col = column[ch["field"]]
        rows = q(
            wh,
            f"SELECT valid_from, valid_to, CAST({col} AS VARCHAR) FROM canonical.employee "
            "WHERE employee_id = ? ORDER BY valid_from",
            ch["employee_id"],
        )
        starts = {str(r[0]): r for r in rows}
        assert ch["effective"] in starts, f"{ch} not a version start in {rows}"
        idx = [str(r[0]) for r in rows].index(ch["effective"])
        new_value = starts[ch["effective"]][2]
        old_value = rows[idx - 1][2]
        norm = (
            (lambda v: str(Decimal(v).normalize()))
            if ch["field"] in ("Hourly_Cost_Rate", "Scheduled_Weekly_Hours")
            else str
        )
        assert (norm(old_value), norm(new_value)) == (norm(ch["old"]), norm(ch["new"]))
        assert str(rows[idx - 1][1]) == ch["effective"], "the old version ends where the new one starts"
    # contract: valid_from < valid_to everywhere
    assert q(wh, "SELECT count(*) FROM canonical.employee_history WHERE valid_to <= valid_from")[0][0] == 0


def test_as_of_view_of_a_past_date_shows_the_sources_as_they_stood(estate_copy, tmp_path):
    wh = tmp_path / "wh.duckdb"
    materialize_canonical(estate_copy, wh)
    entry, before = q(
        wh,
        """SELECT time_entry_id, time_in_minutes FROM canonical.time_entry
                             WHERE status = 'approved' AND updated_at < TIMESTAMP '2026-08-01' ORDER BY 1 LIMIT 1""",
    )[0]
    con = sqlite3.connect(estate_copy / "psa" / "psa.db")
    con.execute(
        "UPDATE time_entries SET time_in_minutes = time_in_minutes + 90, revision = revision + 1, "
        "updated_at = '2026-10-01 10:00:00.000000' WHERE time_entry_id = ?",
        (entry,),
    )
    con.commit()
    con.close()
    materialize_canonical(estate_copy, wh)
    past = q(
        wh,
        "SELECT time_in_minutes, quantity FROM canonical.time_entry_asof(DATE '2026-09-30') WHERE time_entry_id = ?",
        entry,
    )
    now = q(wh, "SELECT time_in_minutes, revision FROM canonical.time_entry WHERE time_entry_id = ?", entry)
    assert past[0][0] == before
    assert now[0][0] == before + 90
    # the ERP as of a past date: invoices not yet issued are absent, later statuses not yet known
    first_paid = q(
        wh,
        "SELECT invoice_id, min(file_date) FROM canonical.invoice_history WHERE status = 'Paid In Full' "
        "GROUP BY 1 ORDER BY 2 LIMIT 1",
    )[0]
    day_before = first_paid[1].toordinal() - 1
    status_then = q(
        wh,
        "SELECT status FROM canonical.invoice_asof(?) WHERE invoice_id = ?",
        date.fromordinal(day_before),
        first_paid[0],
    )
    assert status_then == [("Open",)]


def build_modes(result) -> dict[str, str]:
    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    return {m.asset_key.path[-1]: m.metadata["build"].value for m in mats if "build" in m.metadata}


def row_counts(result) -> dict[str, int]:
    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    return {
        m.asset_key.path[-1]: m.metadata["dagster/row_count"].value for m in mats if "dagster/row_count" in m.metadata
    }


def test_row_local_histories_take_only_new_extractions_and_equal_a_full_rebuild(estate_copy, tmp_path):
    """Time entries and invoice lines are appended by extraction, not rebuilt; the result, quarantine
    included, is exactly what a rebuild from raw gives."""
    wh = tmp_path / "wh.duckdb"
    materialize_canonical(estate_copy, wh)
    con = sqlite3.connect(estate_copy / "psa" / "psa.db")
    con.execute(
        "UPDATE time_entries SET time_in_minutes = time_in_minutes + 30, revision = revision + 1, "
        "updated_at = '2026-10-01 09:00:00.000000' WHERE time_entry_id = 20"
    )
    con.execute(
        "UPDATE time_entries SET time_in_minutes = 0, revision = revision + 1, "  # breaks the contract
        "updated_at = '2026-10-01 09:30:00.000000' WHERE time_entry_id = 21"
    )
    con.execute(  # a new entry: the latest state gains a row
        "INSERT INTO time_entries SELECT (SELECT max(time_entry_id) + 1 FROM time_entries), resource_id, "
        "project_id, task_code, date_performed, time_in_minutes, billable, status, submitted_at, approved_at, "
        "approver_resource_id, notes, 1, deleted_at, '2026-10-01 09:45:00.000000' FROM time_entries "
        "WHERE time_entry_id = 22"
    )
    con.commit()
    con.close()
    entries_before = q(wh, "SELECT count(*) FROM canonical.time_entry")[0][0]
    result = materialize_canonical(estate_copy, wh)
    builds = build_modes(result)
    assert builds["time_entry"] == "appended" and builds["invoice_line"] == "appended"
    # the row count shown in the UI, kept as rows arrive, is the latest state's (20 and 21 changed, one added)
    assert q(wh, "SELECT count(*) FROM canonical.time_entry")[0][0] == entries_before + 1
    assert row_counts(result)["time_entry"] == entries_before + 1
    assert builds["invoice"] == "unchanged"  # not row-local, and no ERP file arrived: left as it was
    tables = ("canonical.time_entry_history", "canonical.invoice_line_history")

    def state():
        return (
            [q(wh, f"SELECT * FROM {t} ORDER BY ALL") for t in tables],
            q(
                wh,
                "SELECT table_name, record_key, record_hash, rule, message FROM quarantine.canonical_rejects "
                "ORDER BY ALL",
            ),
        )

    appended = state()
    assert q(wh, "SELECT time_in_minutes FROM canonical.time_entry WHERE time_entry_id = 20")[0][0] > 0
    assert ("canonical.time_entry_history", "21", "time_in_minutes:greater_than") in {
        (t, k, r) for t, k, _, r, _ in appended[1]
    }
    with duckdb.connect(str(wh)) as c:  # a changed SQL or contract has the same effect: a rebuild from raw
        c.execute("DELETE FROM ops.canonical_builds")
    assert set(build_modes(materialize_canonical(estate_copy, wh)).values()) == {"rebuilt"}
    assert state() == appended


def test_a_history_rebuilt_whole_is_left_alone_until_an_extraction_arrives(estate_copy, tmp_path):
    """Invoice headers are rebuilt whole (the latest Last Modified wins), but only when a delivery brought rows:
    an hourly run with no ERP file keeps them; the next day's delta file voiding an invoice rebuilds them."""
    wh = tmp_path / "wh.duckdb"
    materialize_canonical(estate_copy, wh)
    assert build_modes(materialize_canonical(estate_copy, wh))["invoice"] == "unchanged"
    latest = max((estate_copy / "erp").glob("invoices_*.csv"))
    with latest.open(newline="") as fh:
        header, row = list(csv.reader(fh))[:2]
    invoice = int(row[header.index("Internal ID")])
    next_day = date.fromisoformat(latest.stem.split("_")[1]) + timedelta(days=1)
    row[header.index("Status")] = "Voided"
    row[header.index("Last Modified")] = f"{next_day}T16:00:00Z"
    with (estate_copy / "erp" / f"invoices_{next_day}.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([header, row])
    assert build_modes(materialize_canonical(estate_copy, wh))["invoice"] == "rebuilt"
    assert q(wh, "SELECT status FROM canonical.invoice WHERE invoice_id = ?", invoice) == [("Voided",)]


def test_contract_violations_are_quarantined_with_their_rule_and_nothing_valid_is(estate_copy, tmp_path, monkeypatch):
    con = sqlite3.connect(estate_copy / "psa" / "psa.db")
    con.execute("UPDATE time_entries SET time_in_minutes = 0 WHERE time_entry_id = 3")
    con.execute("UPDATE time_entries SET approved_at = NULL WHERE time_entry_id = 4 AND status = 'approved'")
    approved_4 = con.execute("SELECT status FROM time_entries WHERE time_entry_id = 4").fetchone()[0] == "approved"
    con.commit()
    con.close()
    # a CRM opportunity with a probability out of range, in a new extract folder
    folder = estate_copy / "crm" / "20991231T000000Z"
    folder.mkdir()
    rec = {
        "attributes": {"type": "Opportunity", "url": "/x"},
        "Id": "0065g00000ZZZZZZAA",
        "AccountId": "0015g0000000001BAA",
        "Name": "Too sure",
        "StageName": "Proposal",
        "Probability": 150,
        "Amount": 10,
        "CurrencyIsoCode": "USD",
        "CloseDate": "2099-12-01",
        "IsClosed": False,
        "IsWon": False,
        "IsDeleted": False,
        "SystemModstamp": "2026-09-30T23:00:00.000Z",
    }
    (folder / "Opportunity-00001.json").write_text(json.dumps({"totalSize": 1, "done": True, "records": [rec]}))
    monkeypatch.setenv("PSSYNC_QUARANTINE_MAX_SHARE", "0")
    wh = tmp_path / "wh.duckdb"
    result = materialize_canonical(estate_copy, wh)
    rejects = q(wh, "SELECT table_name, record_key, rule FROM quarantine.canonical_rejects ORDER BY 1, 2")
    expected = {
        ("canonical.time_entry_history", "3", "time_in_minutes:greater_than"),
        ("canonical.opportunity_history", "0065g00000ZZZZZZAA", "probability:less_than_or_equal_to"),
    }
    if approved_4:
        expected.add(("canonical.time_entry_history", "4", "approved_has_approved_at"))
    assert set(rejects) == expected
    assert q(wh, "SELECT count(*) FROM canonical.time_entry WHERE time_entry_id = 3") == [(0,)]
    exc = q(
        wh, "SELECT record_key, rule, message FROM ops.exceptions WHERE layer = 'canonical' AND source <> 'crosswalk'"
    )
    assert {(k, r) for k, r, _ in exc} == {(k, r) for _, k, r in expected}
    assert all("breaks" in m for _, _, m in exc)
    checks = {e.asset_key.path[-1]: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["time_entry"] is False and checks["opportunity"] is False and checks["project"] is True

    # a corrected revision resolves the exception (kept, not deleted); the bad revision stays in quarantine
    con = sqlite3.connect(estate_copy / "psa" / "psa.db")
    con.execute(
        "UPDATE time_entries SET time_in_minutes = 60, revision = revision + 1, "
        "updated_at = '2026-09-30 23:00:00.000000' WHERE time_entry_id = 3"
    )
    con.commit()
    con.close()
    materialize_canonical(estate_copy, wh)
    row = q(wh, "SELECT resolved_at IS NOT NULL FROM ops.exceptions WHERE record_key = '3' AND layer = 'canonical'")
    assert row == [(True,)]
    assert ("canonical.time_entry_history", "3", "time_in_minutes:greater_than") in set(
        q(wh, "SELECT table_name, record_key, rule FROM quarantine.canonical_rejects")
    )
    # the bad revision stays in raw and stays quarantined; the new revision flows on
    assert q(wh, "SELECT time_in_minutes FROM canonical.time_entry WHERE time_entry_id = 3") == [(60,)]


def test_units_and_types(built):
    _, wh, _ = built
    assert q(wh, "SELECT quantity_of_minutes(50), quantity_of_minutes(45), quantity_of_minutes(-50)") == [
        (Decimal("0.83"), Decimal("0.75"), Decimal("-0.83"))
    ]
    assert q(wh, "SELECT convert_money(100.00, 1.270000, 1.080000)") == [(Decimal("117.59"),)]
    assert set(
        q(wh, "SELECT tax_code, tax_rate FROM canonical.tax_code WHERE tax_code IN ('UK-VAT20', 'US-EXEMPT')")
    ) == {("UK-VAT20", Decimal("0.200000")), ("US-EXEMPT", Decimal("0.000000"))}
    row = q(wh, "SELECT amount_in_cents, amount FROM canonical.milestone LIMIT 1")[0]
    assert Decimal(row[0]) / 100 == row[1]
    assert q(wh, "SELECT typeof(hours), typeof(quantity) FROM canonical.time_entry LIMIT 1") == [
        ("DOUBLE", "DECIMAL(18,2)")
    ]
