"""Extract: every source lands in the raw layer, incrementally and exactly once."""

from __future__ import annotations

import json
import sqlite3

import duckdb
import pytest

from assets.extract.loader import load_files
from assets.extract.psa_load import load_psa
from assets.extract.specs import BY_NAME
from resources import LandingFolder, PsaDatabase, Warehouse
from resources.psa import PsaUnavailableError
from tests.conftest import manifest
from tests.helpers import materialize_extract

RAW_TABLES = ["raw." + n for n in BY_NAME]


def counts(wh) -> dict[str, int]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in RAW_TABLES}
    finally:
        con.close()


def latest_time_entries(wh) -> set[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return set(
            con.execute("""
            SELECT time_entry_id, revision, time_in_minutes, status, billable, deleted_at IS NOT NULL
            FROM raw.psa_time_entries
            QUALIFY row_number() OVER (PARTITION BY time_entry_id ORDER BY updated_at DESC, _extracted_at DESC) = 1
        """).fetchall()
        )
    finally:
        con.close()


def source_time_entries(landing) -> set[tuple]:
    con = sqlite3.connect(landing / "psa" / "psa.db")
    try:
        return {
            (a, b, c, d, bool(e), f is not None)
            for a, b, c, d, e, f in con.execute(
                "SELECT time_entry_id, revision, time_in_minutes, status, billable, deleted_at FROM time_entries"
            )
        }
    finally:
        con.close()


def test_full_then_incremental_loads_give_the_sources_latest_state(estate_copy, tmp_path):
    wh = tmp_path / "wh.duckdb"
    result = materialize_extract(estate_copy, wh)
    assert result.success
    assert latest_time_entries(wh) == source_time_entries(estate_copy)
    before = counts(wh)

    # the PSA changes: one entry edited, one soft-deleted, one new entry
    con = sqlite3.connect(estate_copy / "psa" / "psa.db")
    con.execute("""UPDATE time_entries SET time_in_minutes = time_in_minutes + 60, revision = revision + 1,
                   updated_at = '2026-10-01 09:00:00.000000' WHERE time_entry_id = 10""")
    con.execute(
        "UPDATE time_entries SET deleted_at = '2026-10-01 09:05:00.000000', "
        "updated_at = '2026-10-01 09:05:00.000000' WHERE time_entry_id = 11"
    )
    con.execute("""INSERT INTO time_entries SELECT 999999, resource_id, project_id, task_code, date_performed, 120,
                   billable, 'submitted', '2026-10-01 10:00:00.000000', NULL, NULL, NULL, 1, NULL,
                   '2026-10-01 10:00:00.000000' FROM time_entries WHERE time_entry_id = 12""")
    con.commit()
    con.close()
    materialize_extract(estate_copy, wh)
    after = counts(wh)
    assert after["raw.psa_time_entries"] == before["raw.psa_time_entries"] + 3
    assert latest_time_entries(wh) == source_time_entries(estate_copy)
    # every version is kept: entry 10 has both revisions in raw
    with duckdb.connect(str(wh), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM raw.psa_time_entries WHERE time_entry_id = 10").fetchone()[0] == 2


def test_loading_the_same_landing_twice_adds_nothing(estate_copy, tmp_path):
    wh = tmp_path / "wh.duckdb"
    materialize_extract(estate_copy, wh)
    first = counts(wh)
    result = materialize_extract(estate_copy, wh)
    assert counts(wh) == first
    mats = {
        e.asset_key.path[-1]: e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert all(m["rows_loaded"].value == 0 for m in mats.values())
    with duckdb.connect(str(wh), read_only=True) as c:
        runs = c.execute("SELECT count(*), count(DISTINCT extract_id) FROM ops.sync_runs").fetchone()
    assert runs == (2 * len(RAW_TABLES), 2 * len(RAW_TABLES)), "one ops.sync_runs row per extraction"


def test_crm_state_is_the_latest_version_with_deletions(estate_copy, tmp_path):
    wh = tmp_path / "wh.duckdb"
    materialize_extract(estate_copy, wh, selection="raw/crm_opportunity")
    latest = {}
    for page in sorted((estate_copy / "crm").rglob("Opportunity-*.json")):
        for rec in json.loads(page.read_text())["records"]:
            latest[rec["Id"]] = rec
    deleted = {i for i, r in latest.items() if r["IsDeleted"]}
    assert deleted, "the estate deletes some opportunities in later folders"
    with duckdb.connect(str(wh), read_only=True) as c:
        rows = dict(
            c.execute("""SELECT id, isdeleted FROM raw.crm_opportunity
                                 QUALIFY row_number() OVER (
                                     PARTITION BY id ORDER BY _source_ts DESC, _file_date DESC) = 1
                              """).fetchall()
        )
    malformed = {m["record_key"] for m in manifest(estate_copy)["malformed"] if m["source"] == "crm"}
    assert set(rows) == set(latest) - malformed
    assert {i for i, d in rows.items() if d == "true"} == deleted


def test_malformed_input_lands_in_ops_exceptions_and_nothing_else_is_lost(estate_copy, tmp_path):
    wh = tmp_path / "wh.duckdb"
    m = manifest(estate_copy)
    materialize_extract(estate_copy, wh)
    with duckdb.connect(str(wh), read_only=True) as c:
        exc = c.execute("SELECT source, object, record_key, rule, message FROM ops.exceptions ORDER BY 1, 2").fetchall()
        assert {(s, o, k, r) for s, o, k, r, _ in exc} == {
            (x["source"], x["object"].lower(), x["record_key"], x["rule"]) for x in m["malformed"]
        }
        for _, _, _key, _, message in exc:
            assert "row" in message and (".csv" in message or ".json" in message), message
        # the bad payment row is quarantined whole; all other payment rows of that file are loaded
        bad = next(x for x in m["malformed"] if x["source"] == "erp")
        record = c.execute(
            "SELECT record FROM quarantine.extract_rejects WHERE record_key = ?", [bad["record_key"]]
        ).fetchone()[0]
        assert "2026-02-30" in record
        rows_in_file = sum(1 for _ in open(estate_copy / bad["file"])) - 1
        loaded = c.execute("SELECT count(*) FROM raw.erp_payments WHERE _source_file = ?", [bad["file"]]).fetchone()[0]
        assert loaded == rows_in_file - 1
        # a re-delivered copy is skipped by content; a drifted file keeps its extra column
        red = m["redelivered_files"][0]["file"]
        assert c.execute("SELECT status FROM ops.loaded_files WHERE file = ?", [red]).fetchone()[0] == "duplicate"
        drift = m["schema_drift"][0]["file"]
        extra = c.execute("SELECT _extra FROM raw.erp_customers WHERE _source_file = ? LIMIT 1", [drift]).fetchone()[0]
        assert "Sales Rep" in json.loads(extra)


def test_a_file_missing_a_required_column_is_rejected_alone(estate_copy, tmp_path):
    broken = estate_copy / "erp" / "payments_2099-01-01.csv"
    broken.write_text("Internal ID,Invoice Internal ID,Amount\r\n1,2,3.00\r\n")
    wh = tmp_path / "wh.duckdb"
    materialize_extract(estate_copy, wh)
    with duckdb.connect(str(wh), read_only=True) as c:
        rule, msg = c.execute(
            "SELECT rule, message FROM ops.exceptions WHERE record_key = 'erp/payments_2099-01-01.csv'"
        ).fetchone()
        assert rule == "missing_column" and "'Date'" in msg
        assert c.execute("SELECT count(*) FROM raw.erp_payments").fetchone()[0] > 0


@pytest.mark.parametrize("kind", ["files", "psa"])
def test_a_load_killed_half_way_leaves_nothing_and_the_next_run_completes(estate_copy, tmp_path, kind, monkeypatch):
    import assets.extract.loader as loader
    import assets.extract.psa_load as psa_load

    module = loader if kind == "files" else psa_load  # the module whose load records the run
    wh = Warehouse(path=str(tmp_path / "wh.duckdb"))
    landing = LandingFolder(path=str(estate_copy))
    psa = PsaDatabase(url=f"sqlite:///{estate_copy / 'psa' / 'psa.db'}")
    spec = BY_NAME["erp_invoice_lines" if kind == "files" else "psa_time_entries"]

    def crash(*_):  # killed after the rows are in, before the watermark and the run record
        raise KeyboardInterrupt("killed")

    def load(con):
        return load_files(con, spec, landing) if kind == "files" else load_psa(con, spec, psa)

    with wh.connect() as con:
        with monkeypatch.context() as patched:
            patched.setattr(module, "finish", crash)
            with pytest.raises(KeyboardInterrupt):
                load(con)
        assert con.execute(f"SELECT count(*) FROM {spec.table}").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM ops.loaded_files").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM ops.watermarks").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM ops.sync_runs").fetchone()[0] == 0
        res = load(con)
        assert res.rows_loaded > 0
        assert con.execute(f"SELECT count(*) FROM {spec.table}").fetchone()[0] == res.rows_loaded
        assert load(con).rows_loaded == 0


def test_a_psa_load_read_in_batches_equals_one_read_whole(estate_copy, tmp_path):
    """The PSA result streams in batches (a full load at firm scale never sits in memory at once); the rows,
    their numbers and the watermark are those of a single read."""
    spec = BY_NAME["psa_time_entries"]
    url = f"sqlite:///{estate_copy / 'psa' / 'psa.db'}"
    loaded = {}
    for rows in (1_000_000, 997):
        with Warehouse(path=str(tmp_path / f"wh{rows}.duckdb")).connect() as con:
            res = load_psa(con, spec, PsaDatabase(url=url, batch_rows=rows))
            table = con.execute(
                "SELECT * EXCLUDE (_extract_id, _extracted_at) FROM raw.psa_time_entries ORDER BY _row_number"
            ).fetchall()
            watermark = con.execute("SELECT watermark FROM ops.watermarks").fetchall()
            numbers = [n for (n,) in con.execute("SELECT _row_number FROM raw.psa_time_entries ORDER BY 1").fetchall()]
            loaded[rows] = (res.rows_read, res.rows_loaded, table, watermark)
        assert numbers == list(range(1, res.rows_read + 1))  # numbered across batches, each row once
    assert loaded[997][0] > 3 * 997  # really several batches
    assert loaded[997] == loaded[1_000_000]


def test_an_unreachable_psa_fails_clearly_and_the_other_sources_go_on(estate_copy, tmp_path):
    dead = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    with pytest.raises(PsaUnavailableError, match="unreachable after 2 attempts"):
        PsaDatabase(url=dead, retries=2, backoff_seconds=0.01).ping()
    result = materialize_extract(estate_copy, tmp_path / "wh.duckdb", psa_url=dead, raise_on_error=False)
    assert not result.success
    done = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "erp_invoices" in done and "hr_workers" in done and "crm_contract" in done
    assert not any(name.startswith("psa_") for name in done)


def test_psa_extract_from_postgresql(pg_database, tmp_path):
    from estate import EstateConfig, generate_estate
    from tests.conftest import SMALL

    landing = tmp_path / "landing"
    generate_estate(EstateConfig(out=landing, psa_url=pg_database, progress=False, **SMALL))
    wh = tmp_path / "wh.duckdb"
    result = materialize_extract(
        landing, wh, psa_url=pg_database, selection=["raw/psa_time_entries", "raw/psa_resources"]
    )
    assert result.success
    import sqlalchemy as sa

    eng = sa.create_engine(pg_database)
    with eng.connect() as c:
        src = {
            (a, b, c_, d, e, f is not None)
            for a, b, c_, d, e, f in c.execute(
                sa.text(
                    "SELECT time_entry_id, revision, time_in_minutes, status, billable, deleted_at FROM time_entries"
                )
            )
        }
        c.execute(
            sa.text(
                "UPDATE time_entries SET revision = revision + 1, time_in_minutes = 45, "
                "updated_at = TIMESTAMP '2026-10-02 08:00:00' WHERE time_entry_id = 5"
            )
        )
        c.commit()
    eng.dispose()
    assert latest_time_entries(wh) == src
    materialize_extract(landing, wh, psa_url=pg_database, selection="raw/psa_time_entries")
    with duckdb.connect(str(wh), read_only=True) as c:
        assert (
            c.execute("SELECT max(revision), count(*) FROM raw.psa_time_entries WHERE time_entry_id = 5").fetchone()[1]
            == 2
        )


def test_a_record_fixed_then_broken_again_keeps_its_exception_open(tmp_path):
    """Exceptions of rejected CRM records close when the record arrives valid, and reopen for good when it
    breaks again: a later load of other records does not close them."""
    spec = BY_NAME["crm_account"]
    landing = LandingFolder(path=str(tmp_path / "landing"))

    def page(folder: str, records: list[dict]) -> None:
        path = tmp_path / "landing" / "crm" / folder / "Account-00001.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"totalSize": len(records), "done": True, "records": records}))

    def account(key: str, deleted, stamp: str) -> dict:
        return {"Id": key, "Name": "Client", "CurrencyIsoCode": "USD", "IsDeleted": deleted, "SystemModstamp": stamp}

    a, b = "001000000000000AAA", "001000000000000BBB"
    with Warehouse(path=str(tmp_path / "wh.duckdb")).connect() as con:

        def open_for_a() -> list:
            return con.execute(
                "SELECT rule FROM ops.exceptions WHERE object = 'account' AND record_key = ? AND resolved_at IS NULL",
                [a],
            ).fetchall()

        page("20260101T000000Z", [account(a, "maybe", "2026-01-01T00:00:00Z")])
        load_files(con, spec, landing)
        assert open_for_a() == [("invalid_boolean",)]
        page("20260102T000000Z", [account(a, False, "2026-01-02T00:00:00Z")])
        load_files(con, spec, landing)
        assert open_for_a() == []
        page("20260103T000000Z", [account(a, "perhaps", "2026-01-03T00:00:00Z")])
        load_files(con, spec, landing)
        assert open_for_a() == [("invalid_boolean",)]
        page("20260104T000000Z", [account(b, False, "2026-01-04T00:00:00Z")])
        load_files(con, spec, landing)
        assert open_for_a() == [("invalid_boolean",)]


def test_a_blank_field_is_a_missing_value_in_every_file_format(tmp_path):
    """An empty CSV field, quoted or not, and an empty JSON string read as missing, so a required one rejects its row
    as ``missing_value`` instead of passing as an empty text; a field with text stays as written."""
    from assets.extract.parse import read_file
    from assets.extract.raw_sql import violation_sql

    payments = tmp_path / "payments_2026-09-30.csv"
    payments.write_text(
        'Internal ID,Invoice Internal ID,Date,Amount,Currency\n1,10,2026-09-30,5.00,\n2,"",2026-09-30,6.00," "\n'
    )
    workers = tmp_path / "workers_2026-09-30.json"
    workers.write_text(
        json.dumps(
            {
                "Report_Entry": [
                    {
                        "Employee_ID": "",
                        "Worker_Type": "Employee",
                        "Hire_Date": "2020-01-01",
                        "Company": "UK01",
                        "Scheduled_Weekly_Hours": 40,
                        "Hourly_Cost_Rate": "55.00",
                    }
                ]
            }
        )
    )
    checked = {}
    for name, path in (("erp_payments", payments), ("hr_workers", workers)):
        frame = read_file(BY_NAME[name], path)
        checked[name] = duckdb.sql(f"SELECT {violation_sql(BY_NAME[name])} FROM frame").fetchall()
        if name == "erp_payments":
            assert frame["currency"].to_list() == [None, " "]
    assert checked["erp_payments"] == [(None,), ("missing_value|Invoice Internal ID is required but empty",)]
    assert checked["hr_workers"] == [("missing_value|Employee_ID is required but empty",)]
