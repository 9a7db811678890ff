"""The exception lifecycle in the workflow store: what the pipeline finds opens, people acknowledge, assign and
waive, a waived finding that changes reopens, one the pipeline no longer finds is resolved, every change is in
the audit trail, and a person can act while a sync holds the warehouse."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta

import duckdb
import pytest
import sqlalchemy as sa

from assets.workbench.assets import exception_states
from dagster_project.cli import main
from dagster_project.lock import warehouse_lock
from tests.helpers import all_assets, materialize_as_of
from workbench.lifecycle import Finding, Sla, act, history, sync_findings
from workbench.store import exception_states as states_table
from workbench.store import open_store
from workbench.users import add_user

ASSETS = [*all_assets(), exception_states]


def _states(url: str) -> dict[str, dict]:
    engine = sa.create_engine(url)
    with engine.connect() as con:
        rows = {r.exception_key: dict(r._mapping) for r in con.execute(sa.select(states_table))}
    engine.dispose()
    return rows


def _over_cap_exceptions(wh, as_of: date) -> list[tuple[str, int]]:
    """Keys and entries of three time entries over their contract's cap (more hours keep them over it)."""
    con = duckdb.connect(str(wh), read_only=True)
    entries = con.execute(
        "SELECT time_entry_id FROM recon.time_to_bill WHERE as_of_date = ? AND recon_status = 'OVER_CAP' "
        "ORDER BY 1 LIMIT 3",
        [as_of],
    ).fetchall()
    con.close()
    assert len(entries) == 3, "fewer than three OVER_CAP entries: pick an estate that has them"
    return [(f"recon|recon|time_to_bill|{e}|OVER_CAP", e) for (e,) in entries]


def test_the_lifecycle_of_exceptions_found_by_real_runs(estate_copy, tmp_path, capsys, monkeypatch):
    landing, wh = estate_copy, tmp_path / "wh.duckdb"
    url = f"sqlite:///{tmp_path / 'workflow.db'}"  # beside the warehouse: the default store
    as_of = date(2026, 9, 30)
    assert materialize_as_of(landing, wh, as_of.isoformat(), assets=ASSETS).success

    con = duckdb.connect(str(wh), read_only=True)
    open_found = con.execute("SELECT count(*) FROM ops.exceptions WHERE resolved_at IS NULL").fetchall()[0][0]
    con.close()
    states = _states(url)
    assert open_found > 10 and sum(s["state"] == "open" for s in states.values()) == open_found

    (taken, _), (waived, waived_entry), (gone, gone_entry) = _over_cap_exceptions(wh, as_of)
    common = ["--warehouse", str(wh)]
    store = open_store(url)
    add_user(store, "fiona", "delivery", "correct horse battery", datetime(2026, 9, 30))  # OVER_CAP is delivery's
    add_user(store, "frank", "finance", "correct horse battery", datetime(2026, 9, 30))
    store.dispose()
    assert main(["exceptions", "ack", taken, "--as", "fiona", *common]) == 2
    assert "--as fiona alone acts for no one" in capsys.readouterr().err
    monkeypatch.setenv("PSSYNC_PASSWORD", "correct horse battery")  # each person's password (they share one here)
    assert main(["exceptions", "ack", taken, "--as", "mallory", *common]) == 2
    assert "wrong user name or password" in capsys.readouterr().err
    assert main(["exceptions", "ack", taken, "--as", "frank", *common]) == 2
    assert "cannot act on an exception owned by delivery" in capsys.readouterr().err

    # a person acts while a sync holds the warehouse: the store is not the warehouse
    with warehouse_lock(str(wh), as_of):
        assert main(["exceptions", "ack", taken, "--as", "fiona", *common]) == 0
    assert main(["exceptions", "waive", waived, "--as", "fiona", "--reason", "CUSTOMER_AGREED", *common]) == 2
    assert "a waiver needs a comment" in capsys.readouterr().err
    assert (
        main(
            [
                *("exceptions", "waive", waived, "--as", "fiona", "--reason", "CUSTOMER_AGREED"),
                *("--comment", "rate agreed by email, <script>alert(1)</script>", *common),
            ]
        )
        == 0
    )
    assert main(["exceptions", "ack", waived, "--as", "fiona", *common]) == 2  # waived is not open
    assert "not open" in capsys.readouterr().err
    states = _states(url)
    assert (states[taken]["state"], states[taken]["assignee"]) == ("acknowledged", "fiona")
    assert (states[waived]["state"], states[waived]["waiver_reason"]) == ("waived", "CUSTOMER_AGREED")

    # the next day: the waived entry's hours change (so does its amount at risk), the other entry is deleted
    stamp = f"{as_of + timedelta(days=1)} 10:00:00.000000"
    psa = sqlite3.connect(landing / "psa" / "psa.db")
    psa.execute(
        "UPDATE time_entries SET time_in_minutes = time_in_minutes + 60, revision = revision + 1, updated_at = ? "
        "WHERE time_entry_id = ?",
        (stamp, waived_entry),
    )
    psa.execute(
        "UPDATE time_entries SET deleted_at = ?, updated_at = ? WHERE time_entry_id = ?", (stamp, stamp, gone_entry)
    )
    psa.commit()
    psa.close()
    assert materialize_as_of(landing, wh, (as_of + timedelta(days=1)).isoformat(), assets=ASSETS).success
    states = _states(url)
    assert states[waived]["state"] == "open"  # the finding changed: the waiver no longer covers it
    assert states[gone]["state"] == "resolved"
    assert states[taken]["state"] == "acknowledged"  # unchanged finding, still being worked

    # a rerun with nothing new reads only what that run saw again, and changes nothing
    rerun = materialize_as_of(landing, wh, (as_of + timedelta(days=1)).isoformat(), assets=ASSETS)
    [synced] = [
        m.event_specific_data.materialization.metadata
        for m in rerun.get_asset_materialization_events()
        if m.asset_key.path == ["workbench", "exception_states"]
    ]
    assert (synced["opened"].value, synced["reopened"].value, synced["resolved"].value) == (0, 0, 0)
    assert synced["findings_read"].value < len(states) / 2
    assert _states(url) == states

    trail = history(open_store(url), waived)
    assert [(h["actor"], h["action"]) for h in trail] == [
        ("pssync", "opened"),
        ("fiona", "waive"),
        ("pssync", "reopened"),
    ]
    assert trail[1]["comment"] == "rate agreed by email, <script>alert(1)</script>"  # kept as text
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), open_store(url).begin() as con:
        con.execute(sa.text("DELETE FROM audit_trail"))
    assert main(["exceptions", "history", waived, *common]) == 0
    assert capsys.readouterr().out.count("\n") == 3


def test_a_waiver_holds_while_the_finding_is_the_same_on_postgresql(pg_database):
    engine = open_store(pg_database)  # migrated with Alembic on a fresh database
    now = datetime(2026, 10, 1, 9)
    sla = Sla({"delivery": 2})
    finding = Finding(
        "recon", "recon", "time_to_bill", "42", "OVER_CAP", "time entry 42: 960.00 USD at risk", "delivery", False
    )
    assert sync_findings(engine, [finding], now, sla) == {"opened": 1, "reopened": 0, "resolved": 0, "escalated": 0}
    later = now + timedelta(days=3)  # past the two days delivery has: escalated, once
    assert sync_findings(engine, [], later, sla)["escalated"] == 1
    assert sync_findings(engine, [], later + timedelta(days=1), sla)["escalated"] == 0
    add_user(engine, "dana", "delivery", "correct horse battery", now)
    act(engine, finding.key, "waive", "dana", now, reason="ACCEPTED_WRITE_OFF", comment="written off with the client")
    assert sync_findings(engine, [finding], now) == {"opened": 0, "reopened": 0, "resolved": 0, "escalated": 0}
    changed = Finding(*[*vars(finding).values()][:5], "time entry 42: 1,020.00 USD at risk", "delivery", False)
    assert sync_findings(engine, [changed], now)["reopened"] == 1
    gone = Finding(*[*vars(changed).values()][:7], True)
    assert sync_findings(engine, [gone], now)["resolved"] == 1
    assert sync_findings(engine, [changed], later, sla)["reopened"] == 1  # found again: a new clock
    assert sync_findings(engine, [], later + timedelta(days=1), sla)["escalated"] == 0
    assert sync_findings(engine, [], later + timedelta(days=3), sla)["escalated"] == 1
    with engine.connect() as con:
        actions = [
            r.action
            for r in con.execute(
                sa.text("SELECT action FROM audit_trail WHERE exception_key = :k ORDER BY id"), {"k": finding.key}
            )
        ]
    assert actions == ["opened", "escalated", "waive", "reopened", "resolved", "reopened", "escalated"]
    for statement in ("UPDATE audit_trail SET actor = 'mallory'", "DELETE FROM audit_trail"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as con:
            con.execute(sa.text(statement))  # the database itself refuses to rewrite history
    with engine.connect() as con:  # each change told once, in the outbox
        told = [r.type for r in con.execute(sa.text("SELECT type FROM events ORDER BY occurred_at, type"))]
    assert sorted(told) == sorted(
        [
            "exception.opened",
            "exception.escalated",
            "exception.opened",
            "exception.resolved",
            "exception.opened",
            "exception.escalated",
        ]
    )
    engine.dispose()
