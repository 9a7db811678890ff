"""Runs on the shared warehouse (DuckLake, catalog in PostgreSQL) through two Celery workers give what the embedded
single-process runs give, table for table and byte for byte; runs go side by side without lock errors or a key
billed twice; a worker killed mid-run heals on the re-run."""

from __future__ import annotations

import os
import signal
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from resources.fingerprint import file_digests, table_digests
from resources.warehouse import open_warehouse

AS_OF = date(2026, 9, 30)
BACKFILL = [AS_OF - timedelta(days=n) for n in range(10, 0, -1)]  # 09-20 .. 09-29, in date order
KILLED = BACKFILL[0]  # replayed: the date that billed the most


def _published(target: str, as_of: date) -> dict:
    con = open_warehouse(target, read_only=True)
    try:
        return table_digests(con, as_of)
    finally:
        con.close()


def _ledger_duplicates(target: str) -> list:
    con = open_warehouse(target, read_only=True)
    try:
        return con.execute(
            "SELECT idempotency_key, count(*) FROM billing.ledger GROUP BY 1 HAVING count(*) > 1 LIMIT 5"
        ).fetchall()
    finally:
        con.close()


def _ok(proc) -> str:
    """The output of a command that succeeded: exit 0, or 3 where billing was held by an input (the dates before
    the PSA's first extraction: docs/recon.md), which is as much a success in both modes."""
    out = (proc.stdout or "") + (proc.stderr or "")
    assert proc.returncode in (0, 3), out[-3000:]
    return out


@pytest.mark.many_runs
def test_backfill_and_hourly_side_by_side(deployment, embedded):
    """A backfill of ten dates across the four legal entities, on a new warehouse, and the hourly run of today
    started during it share the workers and the warehouse: both finish, neither meets a lock, no key is in two
    batches, and every backfilled date holds what the embedded backfill holds, its batch files byte for byte.
    (Today's rows are compared after the nightly test settles today: the hourly run read whatever batches the
    backfill had committed when it ran, as it should, so its own rows depend on the moment it started.)"""
    dates = ["--from", str(BACKFILL[0]), "--to", str(BACKFILL[-1])]
    backfill = deployment.start("backfill", *dates)
    time.sleep(20)  # into its first date
    hourly = deployment.start("run", "--as-of", str(AS_OF), "--job", "hourly_sync")
    hourly_out, _ = hourly.communicate(timeout=900)
    assert backfill.poll() is None, "the backfill ended before the hourly run: they did not overlap"
    backfill_out, _ = backfill.communicate(timeout=3000)
    for out, proc in ((hourly_out, hourly), (backfill_out, backfill)):
        assert proc.returncode in (0, 3), out[-3000:]
        assert "lock" not in out.lower() and "in use by" not in out
    assert backfill_out.count("pssync run 2026-09-") == 2 * len(BACKFILL)  # a start line and a verdict per date
    assert ": OK — 10 date(s) settled in date order" in backfill_out.strip().splitlines()[-1]

    _ok(embedded("backfill", *dates))
    _ok(embedded("run", "--as-of", str(AS_OF), "--job", "hourly_sync"))
    assert _ledger_duplicates(deployment.env["PSSYNC_WAREHOUSE"]) == []
    for d in BACKFILL:
        assert _published(deployment.env["PSSYNC_WAREHOUSE"], d) == _published(
            str(embedded.root / "warehouse.duckdb"), d
        ), d
    con = open_warehouse(deployment.env["PSSYNC_WAREHOUSE"], read_only=True)
    try:
        billed = con.execute("SELECT legal_entity, count(*) FROM billing.batches GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        con.close()
    assert [e for e, _ in billed] == ["DE01", "SG01", "UK01", "US01"]  # the backfill billed every entity
    files = file_digests(Path(deployment.env["PSSYNC_OUTPUT_DIR"]) / "billing_batches")
    assert len(files) == sum(n for _, n in billed) and files == file_digests(
        embedded.root / "output" / "billing_batches"
    )


def test_nightly_through_two_celery_workers_equals_embedded(deployment, embedded):
    """Today's nightly, after the backfill of the days before it: every published table and batch file as the
    embedded run's, today's rows included (the hourly run of the test before is settled by it)."""
    reference = _ok(embedded("run", "--as-of", str(AS_OF)))
    shared = _ok(deployment.pssync("run", "--as-of", str(AS_OF)))

    # both workers ran steps of the one run
    assert deployment.steps_done("w1") > 0 and deployment.steps_done("w2") > 0
    assert shared.strip().splitlines()[-1] == reference.strip().splitlines()[-1]  # the same verdict, same totals

    want = _published(str(embedded.root / "warehouse.duckdb"), AS_OF)
    got = _published(deployment.env["PSSYNC_WAREHOUSE"], AS_OF)
    assert got == want
    # today bills what the backfill's dates (the test before) left, in every entity's batches
    assert want["billing.batches"][0] >= 4 and want["recon.time_to_bill"][0] > 1000
    entities = open_warehouse(deployment.env["PSSYNC_WAREHOUSE"], read_only=True).execute(
        "SELECT DISTINCT legal_entity FROM billing.batches ORDER BY 1"
    )
    assert [e[0] for e in entities.fetchall()] == ["DE01", "SG01", "UK01", "US01"]

    files = file_digests(Path(deployment.env["PSSYNC_OUTPUT_DIR"]) / "billing_batches")
    assert files and files == file_digests(embedded.root / "output" / "billing_batches")

    # the shared warehouse's maintenance (DuckLake's CHECKPOINT) changes no published row
    compacted = _ok(deployment.pssync("compact"))
    assert compacted.startswith("shared warehouse data files: ") and " MiB -> " in compacted
    assert _published(deployment.env["PSSYNC_WAREHOUSE"], AS_OF) == want


def test_two_legal_entities_reconcile_side_by_side_on_the_shared_warehouse(deployment):
    """Two entities' reconciliations of today, each in a transaction on its own DuckDB instance (as two workers run
    them), both open at once and committing after each other: neither is refused, because an entity rewrites only
    tables of its own, and today reads the same afterwards."""
    import threading

    from assets.recon.assets import reconcile
    from resources.settings import PssyncSettings

    target = deployment.env["PSSYNC_WAREHOUSE"]
    before = _published(target, AS_OF)
    settings = PssyncSettings(
        warehouse=target, landing_dir=deployment.env["PSSYNC_LANDING_DIR"], recon_incremental=False
    )  # whole: every row of each entity compared and its part rewritten where it differs
    both_open = threading.Barrier(2, timeout=300)

    class TogetherAtCommit:
        """A session whose commit waits until the other entity's transaction is open too."""

        def __init__(self, con):
            self.con = con

        def __getattr__(self, name):
            return getattr(self.con, name)

        def commit(self):
            both_open.wait()
            return self.con.commit()

    outcome: dict = {}

    def settle(entity: str) -> None:
        con = open_warehouse(target, data_path=deployment.env.get("PSSYNC_WAREHOUSE_DATA", ""))
        try:
            outcome[entity] = reconcile(TogetherAtCommit(con), AS_OF, [entity], settings).rows
        except Exception as exc:
            outcome[entity] = exc
        finally:
            con.close()

    threads = [threading.Thread(target=settle, args=(e,)) for e in ("US01", "UK01")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert all(isinstance(n, int) and n > 100 for n in outcome.values()), outcome
    assert _published(target, AS_OF) == before


@pytest.mark.many_runs
def test_worker_killed_mid_run_heals_on_rerun(deployment, embedded):
    before = deployment.log("w1").count(b"] received")
    run = deployment.start("run", "--as-of", str(KILLED))
    deadline = time.time() + 300
    while deployment.log("w1").count(b"] received") < before + 2:  # w1 is into the run's steps
        assert time.time() < deadline and run.poll() is None, "the run never reached worker w1"
        time.sleep(0.2)
    deployment.kill_worker("w1")
    time.sleep(2)
    os.killpg(run.pid, signal.SIGKILL)  # the run waits on w1's lost step: the operator stops it
    run.wait(30)
    assert deployment.fail_abandoned_runs() == 1  # what the Dagster daemon's run monitoring does

    deployment.start_worker("w1")
    _ok(deployment.pssync("run", "--as-of", str(KILLED)))
    _ok(embedded("run", "--as-of", str(KILLED)))
    assert _published(deployment.env["PSSYNC_WAREHOUSE"], KILLED) == _published(
        str(embedded.root / "warehouse.duckdb"), KILLED
    )
    assert _ledger_duplicates(deployment.env["PSSYNC_WAREHOUSE"]) == []
    assert file_digests(Path(deployment.env["PSSYNC_OUTPUT_DIR"]) / "billing_batches") == file_digests(
        embedded.root / "output" / "billing_batches"
    )


@pytest.fixture(autouse=True)
def _no_stray_pssync_settings(monkeypatch):
    """The test process reads both warehouses itself: none of the deployments' settings leak into it."""
    for name in [n for n in os.environ if n.startswith("PSSYNC_")]:
        monkeypatch.delenv(name)
