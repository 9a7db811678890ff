"""The estate generator writes every source format (docs/extract.md), with known answers, deterministically."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from assets.extract.parse import read_file
from assets.extract.specs import ALL, BY_NAME
from estate import EstateConfig, generate_estate
from tests.conftest import SMALL, manifest

SPEC_STATUSES = {
    "NOT_APPROVED_BILLED",
    "NOT_BILLABLE_BILLED",
    "DUPLICATE_BILLED",
    "HOURS_MISMATCH",
    "RATE_MISMATCH",
    "BILLED_OK",
    "NON_BILLABLE",
    "FIXED_FEE",
    "INELIGIBLE",
    "OVER_CAP",
    "UNBILLED",
}
SPEC_REASONS = {
    "UNMAPPED_EMPLOYEE",
    "OUTSIDE_EMPLOYMENT",
    "PROJECT_ON_HOLD",
    "PROJECT_CLOSED",
    "NO_ACTIVE_CONTRACT",
    "UNMAPPED_CUSTOMER",
    "MISSING_RATE",
    "PARTIAL_CAP",
}


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def psa(landing: Path, table: str) -> pl.DataFrame:
    """A PSA table as the pipeline reads it (ADBC)."""
    from resources import PsaDatabase

    return PsaDatabase(url=f"sqlite:///{landing / 'psa' / 'psa.db'}").read(f"SELECT * FROM {table}")


def test_every_file_parses_in_its_documented_shape(small_estate):
    for spec in ALL:
        if spec.kind == "psa_table":
            frame = psa(small_estate, spec.pattern)
            assert [f.column for f in spec.fields] == frame.columns, spec.name
            assert frame.height > 0
            continue
        files = sorted(small_estate.glob(spec.pattern))
        assert files, f"no files for {spec.name}"
        rows = 0
        for path in files:
            frame = read_file(spec, path)  # raises on an unparseable file or missing column
            if spec.kind == "csv":
                with open(path, newline="", encoding="utf-8") as fh:
                    header = next(csv.reader(fh))
                documented = [f.label for f in spec.fields]
                assert header[: len(documented)] == documented, path
            if spec.kind == "workday":
                doc = json.loads(path.read_text())
                assert all(isinstance(v, str) for r in doc["Report_Entry"] for v in r.values()), path
            if spec.kind == "crm_pages":
                doc = json.loads(path.read_text())
                assert set(doc) >= {"totalSize", "done", "records"}
                assert all(len(r["Id"]) == 18 for r in doc["records"])
            rows += frame.height  # one file may be a header-only delivery; the object as a whole has rows
        assert rows > 0, f"{spec.name}: every file of the object is empty"


def test_crm_folders_are_a_full_load_then_increments_with_paging(small_estate, tmp_path):
    folders = sorted(p.name for p in (small_estate / "crm").iterdir())
    assert len(folders) == SMALL["months"] + 1
    first = json.loads((small_estate / "crm" / folders[0] / "Contract-00001.json").read_text())
    assert first["totalSize"] > 0 and first["done"] is True
    # paging: the same estate with tiny pages splits objects over numbered pages, done only on the last
    out = tmp_path / "paged"
    generate_estate(EstateConfig(out=out, progress=False, crm_page_size=5, **SMALL))
    pages = sorted((out / "crm" / folders[0]).glob("Contract-*.json"))
    assert len(pages) > 1
    docs = [json.loads(p.read_text()) for p in pages]
    assert [d["done"] for d in docs] == [False] * (len(docs) - 1) + [True]
    assert all("nextRecordsUrl" in d for d in docs[:-1])
    assert sum(len(d["records"]) for d in docs) == docs[0]["totalSize"]


def test_keys_resolve_across_systems_except_the_injected_gaps(small_estate):
    m = manifest(small_estate)
    crm = {
        spec: pl.concat([read_file(BY_NAME[spec], p) for p in sorted(small_estate.glob(BY_NAME[spec].pattern))])
        for spec in ("crm_account", "crm_contract")
    }
    accounts, contracts = crm["crm_account"], crm["crm_contract"]
    projects = psa(small_estate, "projects")
    assert set(projects["crm_account_id"]) <= set(accounts["id"])
    assert set(projects["crm_contract_id"].drop_nulls()) <= set(contracts["id"])
    customers = read_file(BY_NAME["erp_customers"], sorted(small_estate.glob("erp/customers_*.csv"))[-1])
    mapped = set(accounts.filter(pl.col("erp_customer_id__c").is_not_null())["erp_customer_id__c"])
    assert mapped <= set(customers["internal_id"])
    # leavers drop out of later snapshots but are not deleted: any snapshot counts
    workers = pl.concat([read_file(BY_NAME["hr_workers"], p) for p in small_estate.glob("hr/workers_*.json")])
    resources = psa(small_estate, "resources")
    unknown = set(resources["hr_employee_id"].drop_nulls()) - set(workers["employee_id"])
    injected = {u["hr_employee_id"] for u in m["unmapped_employees"] if u["hr_employee_id"]}
    assert unknown == injected
    assert resources["hr_employee_id"].null_count() == sum(
        1 for u in m["unmapped_employees"] if not u["hr_employee_id"]
    )
    lines = pl.concat(
        [read_file(BY_NAME["erp_invoice_lines"], p) for p in sorted(small_estate.glob("erp/invoice_lines_*.csv"))]
    )
    bad_codes = set(lines["project_code"]) - set(projects["project_code"])
    assert bad_codes == {
        x["project_code"] for x in m["billing_line_exceptions"] if x["recon_status"] == "UNKNOWN_PROJECT"
    }
    entries = set(psa(small_estate, "time_entries")["time_entry_id"].cast(pl.Utf8))
    orphans = set(lines["psa_time_entry_id"].drop_nulls()) - entries
    assert orphans == {
        str(x["psa_time_entry_id"]) for x in m["billing_line_exceptions"] if x["recon_status"] == "ORPHAN_BILLING_LINE"
    }
    cards = pl.concat(
        [read_file(BY_NAME["erp_rate_cards"], p) for p in sorted(small_estate.glob("erp/rate_cards_*.csv"))]
    )
    assert set(contracts["rate_card__c"].drop_nulls()) <= set(cards["rate_card_id"])


def test_manifest_cases_are_really_in_the_data(small_estate):
    m = manifest(small_estate)
    statuses = {r["recon_status"] for r in m["expected_status_counts"]}
    reasons = {r["reason"] for r in m["expected_status_counts"] if r["reason"]}
    assert statuses == SPEC_STATUSES, "every recon_status of docs/recon.md except the run-time BATCHED"
    assert reasons == SPEC_REASONS
    entries = psa(small_estate, "time_entries")
    by_id = {r["time_entry_id"]: r for r in entries.iter_rows(named=True)}
    lines = pl.concat(
        [read_file(BY_NAME["erp_invoice_lines"], p) for p in sorted(small_estate.glob("erp/invoice_lines_*.csv"))]
    )
    tm_lines = lines.filter(pl.col("item") == "PS-TM-HOURS").unique(["invoice_internal_id", "line"])
    for case in m["time_entries"]:
        e = by_id[case["time_entry_id"]]
        if case["injected"] == "HOURS_MISMATCH":
            assert e["revision"] >= 2
            billed = tm_lines.filter(pl.col("psa_time_entry_id") == str(e["time_entry_id"]))["quantity"]
            assert all(abs(float(q) - e["time_in_minutes"] / 60) > 0.005 for q in billed)
        if case["injected"] == "NOT_APPROVED_BILLED":
            assert e["deleted_at"] is not None or e["status"] == "rejected"
        if case["injected"] == "NOT_BILLABLE_BILLED":
            assert e["billable"] in (0, False)
        if case["recon_status"] == "DUPLICATE_BILLED":
            assert tm_lines.filter(pl.col("psa_time_entry_id") == str(e["time_entry_id"])).height >= 2
    bad = next(x for x in m["malformed"] if x["source"] == "erp")
    text = (small_estate / bad["file"]).read_text()
    assert f"{bad['record_key']}," in text and "2026-02-30" in text
    crm_bad = next(x for x in m["malformed"] if x["source"] == "crm")
    assert any(
        crm_bad["record_key"] in p.read_text() and '"high"' in p.read_text()
        for p in (small_estate / "crm").rglob("Opportunity-*.json")
    )
    for red in m["redelivered_files"]:
        assert (small_estate / red["file"]).read_bytes() == (small_estate / red["same_as"]).read_bytes()
    drift = m["schema_drift"][0]
    with open(small_estate / drift["file"], newline="") as fh:
        assert next(csv.reader(fh))[-1] == "Sales Rep"
    late = set(m["late_approval_entries"])
    assert late and sum(c["late_approvals"] for c in m["contractor_hours"]) == len(late)


def test_injected_entry_defects_honour_the_anomaly_rate(tmp_path):
    m = generate_estate(
        EstateConfig(out=tmp_path / "e", employees=120, months=4, seed=3, anomaly_rate=0.02, progress=False)
    )
    injected = sum(m["injected_entry_defects"].values())
    assert injected / m["estate"]["time_entries"] == pytest.approx(0.02, rel=0.05)
    assert len(set(m["injected_entry_defects"].values())) == 1, "the rate is split evenly over the five defects"


def test_same_seed_gives_byte_identical_files(small_estate, tmp_path):
    again = tmp_path / "again"
    generate_estate(EstateConfig(out=again, progress=False, **SMALL))
    assert tree_digest(again) == tree_digest(small_estate)
    other = tmp_path / "other"
    generate_estate(EstateConfig(out=other, progress=False, **{**SMALL, "seed": SMALL["seed"] + 1}))
    assert tree_digest(other) != tree_digest(small_estate)


def test_hr_snapshots_carry_the_recorded_changes(small_estate):
    m = manifest(small_estate)
    assert m["hr_changes"], "the estate has HR changes between snapshots"
    for change in m["hr_changes"][:10]:
        before = sorted(p for p in small_estate.glob("hr/workers_*.json") if p.stem[-10:] < change["effective"])[-1]
        at = small_estate / "hr" / f"workers_{change['effective']}.json"
        key = {"Hourly_Cost_Rate": "Hourly_Cost_Rate"}.get(change["field"], change["field"])
        old = {r["Employee_ID"]: r for r in json.loads(before.read_text())["Report_Entry"]}[change["employee_id"]]
        new = {r["Employee_ID"]: r for r in json.loads(at.read_text())["Report_Entry"]}[change["employee_id"]]
        assert (old[key], new[key]) == (change["old"], change["new"])


def test_psa_can_be_written_to_postgresql(pg_database, tmp_path, small_estate):
    out = tmp_path / "pg"
    generate_estate(EstateConfig(out=out, psa_url=pg_database, progress=False, **SMALL))
    eng = sa.create_engine(pg_database)
    with eng.connect() as c:
        n = c.execute(sa.text("SELECT count(*), sum(time_in_minutes) FROM time_entries")).one()
    eng.dispose()
    sqlite = psa(small_estate, "time_entries")
    assert (n[0], n[1]) == (sqlite.height, sqlite["time_in_minutes"].sum())
    assert not (out / "psa" / "psa.db").exists()


def test_public_holidays_are_the_countries_real_calendars(small_estate):
    rows = json.loads((small_estate / "hr" / "holidays_2026.json").read_text())["Report_Entry"]
    days: dict[str, dict[str, str]] = {}
    for r in rows:
        days.setdefault(r["Country"], {})[r["Date"]] = r["Name"]
    assert days["US"]["2026-06-19"].startswith("Juneteenth") and days["US"]["2026-01-19"].startswith("Martin Luther")
    assert days["US"]["2026-07-03"] == "Independence Day (observed)"  # the 4th is a Saturday
    assert days["DE"]["2026-04-06"] == "Easter Monday" and days["DE"]["2026-05-14"] == "Ascension Day"
    assert days["GB"]["2026-04-03"] == "Good Friday"
    assert days["SG"]["2026-02-17"] == "Chinese New Year" and "2026-11-08" in days["SG"]  # Diwali
    assert {c: len(d) for c, d in days.items()} == {"US": 12, "GB": 7, "DE": 9, "SG": 14}
