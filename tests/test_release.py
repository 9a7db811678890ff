"""Batch release: pending until finance decides, two approvals above the threshold, only released batches reach the
ERP staging table, a rejected batch's keys billed again on a later date and never in two released batches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dagster_project.cli import main
from tests.helpers import materialize_as_of
from tests.helpers import query as q
from tests.test_billing import files_digest
from workbench.batches import batches, decide
from workbench.lifecycle import ActionRefused
from workbench.policy import set_policy
from workbench.store import events, open_store
from workbench.users import add_user

NOW = datetime(2026, 11, 26, 9, 0)


def _store(wh):
    return open_store(f"sqlite:///{wh.parent / 'workflow.db'}")


def _people(engine, threshold: Decimal = Decimal("999999999.99")):
    """Two finance people, one of delivery, an analyst and an admin who sets the dual-approval threshold."""
    for name, role in (
        ("fin1", "finance"),
        ("fin2", "finance"),
        ("del1", "delivery"),
        ("ana1", "analyst"),
        ("adm1", "admin"),
    ):
        add_user(engine, name, role, "correct horse battery", NOW)
    set_policy(engine, "dual_approval_above", str(threshold), "adm1", NOW)


def _staged(url) -> dict[str, int]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            if not sa.inspect(c).has_table("pssync_billing_staging"):
                return {}
            rows = c.execute(sa.text("SELECT batch_id, count(*) FROM pssync_billing_staging GROUP BY 1")).all()
    finally:
        eng.dispose()
    return dict(rows)


def test_only_released_batches_reach_staging_and_large_ones_need_two_finance_users(billed, tmp_path):
    landing, wh, out, m = billed
    engine = _store(wh)
    _people(engine)
    emitted = batches(engine)
    assert emitted and all(b["state"] == "pending" for b in emitted), "every batch is emitted pending"
    assert {b["batch_id"] for b in emitted} == {r[0] for r in q(wh, "SELECT batch_id FROM billing.batches")}
    assert all(b["gross_reporting"] is not None and b["reporting_currency"] == "USD" for b in emitted)
    by_gross = sorted(emitted, key=lambda b: b["gross_reporting"])
    small, large = by_gross[0], by_gross[-1]
    threshold = small["gross_reporting"]  # the smallest batch is at the threshold (one approval), the largest above it
    assert large["gross_reporting"] > threshold
    set_policy(engine, "dual_approval_above", str(threshold), "adm1", NOW)

    staging = f"sqlite:///{tmp_path / 'staging.db'}"
    assert materialize_as_of(landing, wh, m["as_of"], outputs=out, staging_url=staging).success
    assert _staged(staging) == {}, "nothing reaches the ERP before a person releases it"

    with pytest.raises(ActionRefused, match="only finance"):
        decide(engine, large["batch_id"], "release", "del1", NOW)
    with pytest.raises(ActionRefused, match="only finance"):
        decide(engine, large["batch_id"], "release", "ana1", NOW)
    first = decide(engine, large["batch_id"], "release", "fin1", NOW)
    assert first["state"] == "pending" and first["first_approver"] == "fin1"
    with pytest.raises(ActionRefused, match="another finance user"):
        decide(engine, large["batch_id"], "release", "fin1", NOW)
    assert materialize_as_of(landing, wh, m["as_of"], outputs=out, staging_url=staging).success
    assert _staged(staging) == {}, "one approval of a batch above the threshold releases nothing"
    assert decide(engine, large["batch_id"], "release", "fin2", NOW)["state"] == "released"
    assert decide(engine, small["batch_id"], "release", "fin1", NOW)["state"] == "released"
    with pytest.raises(ActionRefused, match="released"):
        decide(engine, small["batch_id"], "reject", "fin2", NOW, reason="late")

    for _ in range(2):  # published once, however often the pipeline runs
        assert materialize_as_of(landing, wh, m["as_of"], outputs=out, staging_url=staging).success
        assert _staged(staging) == {
            large["batch_id"]: large["line_count"],
            small["batch_id"]: small["line_count"],
        }
    with engine.connect() as c:
        kinds = dict(c.execute(sa.select(events.c.type, sa.func.count()).group_by(events.c.type)).all())
    assert kinds["batch.emitted"] == len(emitted) and kinds["batch.released"] == 2
    engine.dispose()


def test_a_rejected_batch_is_billed_again_later_and_no_key_is_in_two_released_batches(billed, tmp_path, monkeypatch):
    landing, wh, out, m = billed
    d0 = date.fromisoformat(m["as_of"])
    first_files = files_digest(out)
    engine = _store(wh)
    _people(engine)
    rejected = max(batches(engine), key=lambda b: b["line_count"])
    rejected_keys = {
        r[0]
        for r in q(wh, "SELECT idempotency_key FROM billing.batch_lines WHERE batch_id = ?", [rejected["batch_id"]])
    }
    # the CLI twin, as a script would call it: the person proven by their password
    monkeypatch.setenv("PSSYNC_PASSWORD", "correct horse battery")
    argv = ["batches", "reject", rejected["batch_id"], "--as", "fin1", "--warehouse", str(wh)]
    assert main(argv) == 2, "a rejection needs a reason"
    assert main([*argv, "--reason", "customer disputes the rates"]) == 0
    assert main(["batches", "release", rejected["batch_id"], "--as", "fin2", "--warehouse", str(wh)]) == 2
    for b in batches(engine, "pending"):
        decide(engine, b["batch_id"], "release", "fin1", NOW)

    d1 = d0 + timedelta(days=1)
    assert materialize_as_of(landing, wh, d1.isoformat(), outputs=out).success
    carried = dict(
        q(
            wh,
            "SELECT idempotency_key, batch_id FROM billing.batch_lines WHERE as_of_date = ? AND idempotency_key IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [d1, sorted(rejected_keys)],
        )
    )
    assert set(carried) == rejected_keys, "every key of the rejected batch is carried by a batch of the next date"
    assert q(wh, "SELECT count(*) FROM billing.rejected_ledger WHERE batch_id = ?", [rejected["batch_id"]]) == [
        (len(rejected_keys),)
    ]
    for b in batches(engine, "pending"):
        decide(engine, b["batch_id"], "release", "fin2", NOW)
    released = [b["batch_id"] for b in batches(engine, "released")]
    keys = q(
        wh,
        "SELECT idempotency_key, count(*) FROM billing.batch_lines WHERE batch_id IN (SELECT unnest(?::VARCHAR[])) "
        "GROUP BY 1 HAVING count(*) > 1",
        [released],
    )
    assert keys == [], "a key is never in two released batches"
    assert rejected["batch_id"] not in released

    # the rejected date replays to the same files, byte for byte
    assert materialize_as_of(landing, wh, d0.isoformat(), outputs=tmp_path / "replay").success
    assert files_digest(tmp_path / "replay") == first_files
    engine.dispose()


def test_release_decisions_are_in_the_audit_trail(billed):
    _landing, wh, _out, _m = billed
    engine = _store(wh)
    _people(engine)
    set_policy(engine, "dual_approval_above", "0", "adm1", NOW)
    b = batches(engine)[0]
    decide(engine, b["batch_id"], "release", "fin1", NOW)
    decide(engine, b["batch_id"], "release", "fin2", NOW + timedelta(minutes=5))
    from workbench.lifecycle import history

    trail = history(engine, f"batch|{b['batch_id']}")
    assert [(h["actor"], h["action"]) for h in trail] == [("fin1", "approve"), ("fin2", "release")]
    engine.dispose()


def test_decisions_taken_while_a_nightly_sync_holds_the_warehouse_are_honoured_by_the_next_run(
    billed,
    tmp_path,
    monkeypatch,
):
    """A real `pssync run` in another process holds the warehouse; meanwhile finance rejects a batch and a person
    waives an exception through the web API. Both succeed at once; the run keeps the waiver; the next date bills the
    rejected batch's items again."""
    import fcntl
    import subprocess
    import sys
    import time

    from fastapi.testclient import TestClient

    from resources.settings import PssyncSettings
    from workbench.lifecycle import history
    from workbench.users import issue_token
    from workbench.web.app import create_app

    landing, wh, out, m = billed
    d0 = date.fromisoformat(m["as_of"])
    engine = _store(wh)
    _people(engine)
    rejected = batches(engine)[0]["batch_id"]
    from assets.workbench.assets import exception_states
    from tests.helpers import all_assets

    assert materialize_as_of(landing, wh, m["as_of"], assets=[*all_assets(), exception_states]).success
    with engine.connect() as c:
        key = c.execute(
            sa.text("SELECT exception_key FROM exception_states WHERE state = 'open' AND owner = 'finance' LIMIT 1")
        ).scalar()
    token = issue_token(engine, "fin1", datetime.now(UTC).replace(tzinfo=None))
    monkeypatch.setenv("PSSYNC_PASSWORD", "correct horse battery")
    settings = PssyncSettings.from_env({"warehouse": str(wh), "landing_dir": str(landing), "output_dir": str(out)})
    api = TestClient(create_app(settings, secret="t"))

    d1 = d0 + timedelta(days=1)
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_project.cli",
            "run",
            "--as-of",
            d1.isoformat(),
            "--landing-dir",
            str(landing),
            "--warehouse",
            str(wh),
            "--output-dir",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        lock = open(wh.with_name(wh.name + ".lock"), "a+")
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until the run holds the warehouse
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(lock, fcntl.LOCK_UN)
                time.sleep(0.05)
            except BlockingIOError:
                break
        else:
            pytest.fail("the run never took the warehouse")
        started = time.time()
        r = api.post(
            "/api/v1/exception/actions",
            json={"key": key, "action": "waive", "reason": "CUSTOMER_AGREED", "comment": "agreed on the phone"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and r.json()["state"] == "waived"
        assert (
            main(["batches", "reject", rejected, "--as", "fin2", "--reason", "wrong PO", "--warehouse", str(wh)]) == 0
        )
        assert time.time() - started < 10, "the actions did not wait for the run"
        assert run.poll() is None, "the actions were taken while the run still held the warehouse"
        lock.close()
    finally:
        output = run.communicate(timeout=600)[0].decode()
    assert run.returncode in (0, 3), output[-2000:]
    with engine.connect() as c:
        state = c.execute(sa.text("SELECT state FROM exception_states WHERE exception_key = :k"), {"k": key}).scalar()
    assert state == "waived" or [h["action"] for h in history(engine, key)][-1] == "reopened"
    # the run of d1 began before the rejection reached it, or freed the keys at its start: by d2 they are billed again
    d2 = d1 + timedelta(days=1)
    assert materialize_as_of(landing, wh, d2.isoformat(), outputs=out).success
    freed = q(wh, "SELECT count(*) FROM billing.rejected_ledger WHERE batch_id = ?", [rejected])[0][0]
    carried = q(
        wh,
        "SELECT count(*) FROM billing.ledger WHERE as_of_date > ? AND idempotency_key IN "
        "(SELECT idempotency_key FROM billing.rejected_ledger WHERE batch_id = ?)",
        [d0, rejected],
    )[0][0]
    assert freed > 0 and carried == freed
    engine.dispose()
