"""Faulty PSA rows, hostile values, hung sources, crashed tools and concurrent runs: billing fails closed.

The PostgreSQL cases use the real server (``pg_database``); the hung source is a loopback socket that accepts
connections and never answers.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.faults import AS_OF, FAULT_ESTATE, NEXT, ledger_keys, open_exception_text, psa, run
from tests.helpers import query


def _clean_env() -> dict:
    """The environment of a command a user types: no PSSYNC_* settings left over from other tests."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PSSYNC_") and k != "DAGSTER_HOME"}


def _entry_billed_in_the_clean_run(con, keys: set[str]) -> tuple:
    """A time entry the clean run bills (``PS-TM-HOURS:<entry>:<revision>``): its project has billing to hold."""
    first = min(int(k.split(":")[1]) for k in keys if k.startswith("PS-TM-HOURS:"))
    return con.execute("SELECT * FROM time_entries WHERE time_entry_id = ?", [first]).fetchone()


def _key_column_as_bigint(con) -> None:
    """Rebuild ``time_entries`` as a PSA that declares its key BIGINT (not SQLite's row id), same rows."""
    ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = 'time_entries'").fetchone()[0]
    assert "time_entry_id INTEGER NOT NULL" in ddl, ddl
    indexes = [
        r[0]
        for r in con.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'time_entries' AND sql IS NOT NULL AND type = 'index'"
        )
    ]
    con.execute(ddl.replace("time_entries", "te_bigint", 1).replace("time_entry_id INTEGER", "time_entry_id BIGINT"))
    con.execute("INSERT INTO te_bigint SELECT * FROM time_entries")
    con.execute("DROP TABLE time_entries")
    con.execute("ALTER TABLE te_bigint RENAME TO time_entries")
    for sql in indexes:
        con.execute(sql)
    con.commit()


def test_a_20_digit_psa_id_rejects_its_row_and_holds_its_project(faulty, clean_billing):
    landing, wh, out = faulty
    with psa(landing) as con:
        row = list(_entry_billed_in_the_clean_run(con, clean_billing[AS_OF]))
        cols = [d[1] for d in con.execute("PRAGMA table_info(time_entries)").fetchall()]
        row[cols.index("time_entry_id")] = -1
        con.execute(f"INSERT INTO time_entries VALUES ({', '.join('?' * len(cols))})", row)
        _key_column_as_bigint(con)  # the generated key is SQLite's row id, which cannot hold 20 digits
        con.execute("UPDATE time_entries SET time_entry_id = 12345678901234567890 WHERE time_entry_id = -1")  # a REAL
    held = run(landing, wh, AS_OF, out)
    assert held.result.success, held.verdict
    assert held.code == 3 and "time_entries" in held.verdict
    rejects = query(wh, "SELECT record_key, rule FROM quarantine.extract_rejects WHERE object = 'psa_time_entries'")
    assert rejects == [("1.2345678901234567e+19", "wrong_type")]
    assert "1.2345678901234567e+19" in open_exception_text(wh)
    assert query(wh, "SELECT count(*) FROM raw.psa_time_entries")[0][0] > 4000  # every other row loaded
    assert ledger_keys(wh, AS_OF) < clean_billing[AS_OF]  # its project is held, the rest bills
    with psa(landing) as con:  # the PSA corrects the id: the bad key is gone
        con.execute("DELETE FROM time_entries WHERE time_entry_id > 9000000000000000000")
    fixed = run(landing, wh, NEXT, out)
    assert fixed.code == 0, fixed.verdict
    assert ledger_keys(wh) == clean_billing[AS_OF] | clean_billing[NEXT]


def test_a_legal_entity_that_is_a_path_is_quarantined_never_a_file(faulty, clean_billing, tmp_path):
    landing, wh, out = faulty
    target = tmp_path / "evil"
    evil = "US01/../../../../../../../../.." + str(target)
    with psa(landing) as con:
        project = con.execute(
            "SELECT project_id FROM projects WHERE billing_type = 'tm' AND status = 'active' "
            "AND legal_entity = 'US01' ORDER BY project_id LIMIT 1"
        ).fetchone()[0]
        legal = con.execute("SELECT legal_entity FROM projects WHERE project_id = ?", [project]).fetchone()[0]
        con.execute(
            "UPDATE projects SET legal_entity = ?, updated_at = '2026-09-30 12:00:00.000000' WHERE project_id = ?",
            [evil, project],
        )
    held = run(landing, wh, AS_OF, out)
    assert held.code == 3 and "project_history" in held.verdict, held.verdict
    assert not target.exists() and not list(tmp_path.glob("**/evil*"))
    assert {p.parent for p in out.rglob("BB-*.json")} <= {out / "billing_batches"}
    assert ledger_keys(wh, AS_OF) <= clean_billing[AS_OF]
    with psa(landing) as con:
        con.execute(
            "UPDATE projects SET legal_entity = ?, updated_at = '2026-10-01 08:00:00.000000' WHERE project_id = ?",
            [legal, project],
        )
    assert run(landing, wh, NEXT, out).code == 0
    assert ledger_keys(wh) == clean_billing[AS_OF] | clean_billing[NEXT]


def test_a_batch_id_that_is_not_well_formed_never_becomes_a_path(tmp_path):
    from assets.billing.emit import BatchIntegrityError, batch_path
    from resources.outputs import OutputFolder

    out = OutputFolder(path=str(tmp_path / "out"))
    assert batch_path(out, "BB-US01-1000-USD-20260930").name == "BB-US01-1000-USD-20260930.json"
    for bad in ("BB-US01/../../x-1000-USD-20260930", "BB-US01-1000-usd-20260930", "../BB-US01-1000-USD-20260930"):
        with pytest.raises(BatchIntegrityError):
            batch_path(out, bad)


def test_a_great_expectations_config_left_empty_by_a_kill_does_not_stop_later_runs(faulty, clean_billing):
    landing, wh, out = faulty
    assert run(landing, wh, AS_OF, out).code == 0
    config = next((out / "data_quality").rglob("great_expectations.yml"))
    config.write_bytes(b"")  # kill -9 while GX saved it
    files = sorted((out / "billing_batches").glob("*.json"))
    before = {p.name: p.read_bytes() for p in files}
    for p in files:
        p.unlink()
    again = run(landing, wh, AS_OF, out)
    assert again.code == 0, again.verdict
    assert {p.name: p.read_bytes() for p in (out / "billing_batches").glob("*.json")} == before
    assert config.stat().st_size > 0


class _SilentServer:
    """A TCP port on loopback that accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            while True:
                self.conns.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def test_a_psa_that_never_answers_fails_its_steps_in_bounded_time_and_releases_the_warehouse(faulty, monkeypatch):
    landing, wh, out = faulty
    server = _SilentServer()
    monkeypatch.setenv("PSSYNC_PSA_TIMEOUT", "1")
    try:
        started = time.monotonic()
        hung = run(landing, wh, AS_OF, out, psa_url=f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/test")
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert not hung.result.success and hung.code == 1
    assert "raw/psa_" in hung.verdict and "PSA database" in hung.verdict and "password" not in hung.verdict
    assert elapsed < 120
    assert query(wh, "SELECT count(*) FROM raw.erp_invoices")[0][0] > 0  # the file sources still loaded
    duckdb.connect(str(wh)).close()  # nobody holds the warehouse
    assert not (out / "billing_batches").exists() or not list((out / "billing_batches").glob("*.json"))


def test_a_second_run_on_the_same_warehouse_leaves_at_once_naming_the_first(tmp_path):
    from dagster_project.lock import warehouse_lock

    wh = tmp_path / "warehouse.duckdb"
    with warehouse_lock(str(wh), AS_OF):
        started = time.monotonic()
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "dagster_project.cli",
                "run",
                "--as-of",
                str(AS_OF),
                "--warehouse",
                str(wh),
                "--landing-dir",
                str(tmp_path / "landing"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).parent.parent,
            env=_clean_env(),
        )
    assert second.returncode == 75
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and str(AS_OF) in lines[0], second.stderr
    assert time.monotonic() - started < 60


def test_passwords_come_from_the_environment_not_the_command_line(monkeypatch, capsys):
    from dagster_project.cli.common import warn_secrets as _warn_secrets
    from resources import PsaDatabase
    from resources.erp_staging import ErpStaging

    monkeypatch.setenv("PSSYNC_PSA_PASSWORD", "s3cret")
    monkeypatch.setenv("PSSYNC_ERP_STAGING_PASSWORD", "t0p")
    assert ":s3cret@" in PsaDatabase(url="postgresql+psycopg://app@db.example/psa").adbc_uri()
    assert ErpStaging(url="postgresql+psycopg://erp@db.example/stage").engine_url().password == "t0p"
    _warn_secrets(argparse.Namespace(psa_url="postgresql://app:pw@db/psa", erp_staging_url=None))
    assert "visible" in capsys.readouterr().err
    _warn_secrets(argparse.Namespace(psa_url="postgresql://app@db/psa", erp_staging_url=None))
    assert capsys.readouterr().err == ""


def _table_digest(warehouse: Path, table: str, order: str) -> str:
    rows = query(warehouse, f"SELECT CAST(t AS VARCHAR) FROM {table} t WHERE as_of_date = ? ORDER BY {order}", [AS_OF])
    return hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()


@pytest.mark.postgres
def test_the_psa_in_postgresql_runs_end_to_end_like_sqlite(pg_database, tmp_path, clean_billing, monkeypatch):
    from estate import EstateConfig, generate_estate

    landing = tmp_path / "landing"
    generate_estate(EstateConfig(out=landing, progress=False, psa_url=pg_database, **FAULT_ESTATE))
    wh, out = tmp_path / "warehouse.duckdb", tmp_path / "output"
    pg = run(landing, wh, AS_OF, out, psa_url=pg_database)
    assert pg.code == 0, pg.verdict
    sqlite_wh = clean_billing["warehouse"]
    for table, order in (
        ("recon.time_to_bill", "time_entry_id"),
        ("billing.batch_lines", "batch_id, line_no"),
        ("recon.billing_holds", "scope, scope_key, record_key"),
    ):
        assert _table_digest(wh, table, order) == _table_digest(sqlite_wh, table, order), table
    for name in ("assignments", "projects", "time_entries", "milestones", "expenses", "resources"):
        assert query(wh, f"SELECT count(*) FROM raw.psa_{name}") == query(
            sqlite_wh, f"SELECT count(*) FROM raw.psa_{name}"
        )
    sqlite_files = {
        p.name: p.read_bytes()
        for p in (clean_billing["output"] / "billing_batches").glob("*.json")
        if p.name.endswith(f"{AS_OF:%Y%m%d}.json")
    }
    assert {p.name: p.read_bytes() for p in (out / "billing_batches").glob("*.json")} == sqlite_files

    # another session locks time_entries: the load gives up after PSSYNC_PSA_TIMEOUT instead of waiting forever
    import sqlalchemy as sa

    from assets.extract.psa_load import load_psa
    from assets.extract.specs import BY_NAME
    from resources import PsaDatabase, Warehouse
    from resources.psa import PsaUnavailableError

    engine = sa.create_engine(pg_database)
    with engine.connect() as locker:
        locker.execute(sa.text("LOCK TABLE time_entries IN ACCESS EXCLUSIVE MODE"))
        source = PsaDatabase(url=pg_database, timeout_seconds=2, retries=1)
        started = time.monotonic()
        with Warehouse(path=str(tmp_path / "other.duckdb")).connect() as con:
            with pytest.raises(PsaUnavailableError, match="timeout"):
                load_psa(con, BY_NAME["psa_time_entries"], source)
        assert time.monotonic() - started < 30
        locker.rollback()
    engine.dispose()


def test_a_stop_that_lands_in_a_finaliser_prints_no_traceback_and_is_not_lost(monkeypatch, capsys):
    """Python reports an exception raised inside ``__del__`` as "Exception ignored in ..." with a traceback; when it
    is the stop itself, the run must still end with its one line, and the stop must still count."""
    import signal
    import sys

    from dagster_project.cli.signals import terminate_on_sigterm as _terminate_on_sigterm
    from resources import warehouse

    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    previous = signal.getsignal(signal.SIGTERM)
    warehouse._stopping.clear()
    try:
        _terminate_on_sigterm()

        class Finalised:
            def __del__(self):
                raise KeyboardInterrupt("signal 15")

        Finalised()  # collected at once: its finaliser raises, as when SIGTERM lands there
        assert capsys.readouterr().err == ""
        assert warehouse.stop_requested()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.set_wakeup_fd(-1)
        warehouse._stopping.clear()


def test_sigterm_ends_a_run_cleanly_and_the_next_run_completes_it(faulty, clean_billing):
    import signal

    landing, wh, out = faulty
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_project.cli",
            "run",
            "--as-of",
            str(AS_OF),
            "--landing-dir",
            str(landing),
            "--warehouse",
            str(wh),
            "--output-dir",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
        env=_clean_env(),
    )
    deadline = time.monotonic() + 90
    while not wh.exists() and time.monotonic() < deadline:  # the run is under way once the warehouse exists
        time.sleep(0.2)
    time.sleep(2)
    # as a service manager does: SIGTERM, and again while it is still running (Dagster, which takes the signal
    # over during execution, can lose one that lands while Python runs a finaliser)
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        f"pssync run {AS_OF}: INTERRUPTED — every step commits whole or not at all; run it again to finish"
    ]
    again = run(landing, wh, AS_OF, out)
    assert again.code == 0, again.verdict
    assert ledger_keys(wh, AS_OF) == clean_billing[AS_OF]


@pytest.mark.postgres
def test_a_permanent_psa_error_is_not_retried(pg_database):
    import sqlalchemy as sa

    from resources import PsaDatabase
    from resources.psa import PsaUnavailableError

    wrong = sa.engine.make_url(pg_database).set(database="no_such_database").render_as_string(hide_password=False)
    started = time.monotonic()
    with pytest.raises(PsaUnavailableError, match="does not exist") as err:
        PsaDatabase(url=wrong, retries=3, backoff_seconds=5).ping()
    assert time.monotonic() - started < 5, "a database that does not exist is not retried with backoff"
    assert "PSSYNC_PSA_URL" in str(err.value) and "attempts" not in str(err.value)
