"""Incremental reconciliation: a rerun of a reconciled date recomputes only what changed, and reads exactly what a
full recompute of that date reads, after any change: entries approved, edited, moved, deleted or added, invoices
billing them, projects put on hold, assignments changed, a not-to-exceed cap crossed at another entry, a rate card
file dropped."""

from __future__ import annotations

import hashlib
import random
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from assets.billing.emit import billable_entities
from assets.canonical.assets import canonical_assets
from assets.extract.assets import extract_assets
from assets.recon import incremental
from assets.recon.definitions import recon_assets
from estate import EstateConfig, generate_estate
from resources.warehouse import bound_params, sql_text
from tests.helpers import all_assets, materialize_as_of

SYNC = [*extract_assets, *canonical_assets, *recon_assets]  # every source, so master-data changes arrive too


def _rows(con, query: str, params: dict) -> list[tuple]:
    return sorted(con.execute(query, bound_params(query, params)).fetchall(), key=repr)


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


RECON = ("time_to_bill", "billing_line_exceptions", "contractor_hours")


def _full_recompute(con, d: date, table: str = "time_to_bill") -> list[tuple]:
    """A recon table for ``d`` computed whole from the same inputs, every column, in the table's order."""
    columns = ", ".join(f'"{c}"' for (c, *_) in con.execute(f"DESCRIBE recon.{table}").fetchall())
    query = sql_text(f"recon/{table}")
    params = {"as_of": d, "reporting": "USD", "scoped": False, "legal_entities": billable_entities(con, d)}
    return _rows(con, f"SELECT {columns} FROM ({query})", params)


def _published(con, d: date, table: str = "time_to_bill") -> list[tuple]:
    return _rows(con, f"SELECT * FROM recon.{table} WHERE as_of_date = $as_of", {"as_of": d})


def _open_recon_exceptions(con) -> list[tuple]:
    return _rows(
        con,
        "SELECT record_key, rule, message, owner FROM ops.exceptions WHERE layer = 'recon' AND object = 'time_to_bill' "
        "AND resolved_at IS NULL",
        {},
    )


def _expected_exceptions(con, d: date) -> list[tuple]:
    query = sql_text("recon/exceptions/time_to_bill")
    return sorted(
        [
            r[:4]
            for r in con.execute(
                query, bound_params(query, {"as_of": d, "scoped": False, "legal_entities": billable_entities(con, d)})
            ).fetchall()
        ],
        key=repr,
    )


class Psa:
    """Changes made in the PSA during a business day, stamped at an hour of it."""

    def __init__(self, landing: Path, rng: random.Random):
        self.db = sqlite3.connect(landing / "psa" / "psa.db")
        self.rng = rng

    def ids(self, sql: str, k: int) -> list[int]:
        found = [r[0] for r in self.db.execute(sql).fetchall()]
        return self.rng.sample(found, min(k, len(found)))

    def update(self, table: str, key: str, ids: list[int], assignments: str, stamp: str) -> set[int]:
        self.db.executemany(
            f"UPDATE {table} SET {assignments}, updated_at = ? WHERE {key} = ?", [(stamp, i) for i in ids]
        )
        return set(ids)

    def touch_entries(self, stamp: str, k: int) -> set[int]:
        """Approve some submitted entries, edit, move and delete some approved ones, add new ones."""
        touched = self.update(
            "time_entries",
            "time_entry_id",
            self.ids("SELECT time_entry_id FROM time_entries WHERE status = 'submitted'", k),
            f"status = 'approved', approved_at = '{stamp}'",
            stamp,
        )
        approved = "SELECT time_entry_id FROM time_entries WHERE status = 'approved' AND deleted_at IS NULL"
        touched |= self.update(
            "time_entries",
            "time_entry_id",
            self.ids(approved, k),
            "time_in_minutes = time_in_minutes + 30, revision = revision + 1",
            stamp,
        )
        other = self.rng.choice([r[0] for r in self.db.execute("SELECT project_id FROM projects").fetchall()])
        touched |= self.update(
            "time_entries",
            "time_entry_id",
            self.ids(approved, 1),
            f"project_id = {other}, revision = revision + 1",
            stamp,
        )
        touched |= self.update("time_entries", "time_entry_id", self.ids(approved, 1), f"deleted_at = '{stamp}'", stamp)
        top = self.db.execute("SELECT max(time_entry_id) FROM time_entries").fetchone()[0]
        day = stamp[:10]
        self.db.execute(
            f"""INSERT INTO time_entries SELECT time_entry_id + {top}, resource_id, project_id, task_code, '{day}',
                time_in_minutes, billable, 'approved', '{stamp}', '{stamp}', approver_resource_id, NULL, 1, NULL,
                '{stamp}' FROM time_entries WHERE time_entry_id IN ({",".join(map(str, self.ids(approved, k)))})"""
        )
        return touched

    def shift_cap(self, con, d: date, stamp: str) -> set[int]:
        """On a contract whose unbilled work crosses its not-to-exceed cap, add two days' hours to its earliest
        unbilled entry: the entries after it cross the cap earlier."""
        rows = con.execute(
            """SELECT contract_id, arg_min(time_entry_id, (work_date, time_entry_id)) FROM recon.time_to_bill
               WHERE as_of_date = ? AND recon_status = 'UNBILLED' AND reason IS NULL AND contract_id IN (
                   SELECT contract_id FROM recon.time_to_bill WHERE as_of_date = ? AND recon_status = 'OVER_CAP')
               GROUP BY 1 HAVING count(*) > 2 ORDER BY 1""",
            [d, d],
        ).fetchall()
        assert rows, "no contract whose unbilled work crosses its cap: pick an estate that has one"
        entry = self.rng.choice(rows)[1]
        return self.update(
            "time_entries",
            "time_entry_id",
            [entry],
            "time_in_minutes = time_in_minutes + 960, revision = revision + 1",
            stamp,
        )

    def arrive_for_orphan_line(self, con, d: date, stamp: str) -> int:
        """The PSA entry an unmatched invoice line names arrives late (a copy of another entry under its id)."""
        orphans = con.execute(
            "SELECT psa_time_entry_id FROM recon.billing_line_exceptions WHERE as_of_date = ? "
            "AND recon_status = 'ORPHAN_BILLING_LINE' ORDER BY 1",
            [d],
        ).fetchall()
        assert orphans, "no orphan billing line: pick an estate that has one"
        entry = orphans[0][0]
        self.db.execute(
            f"""INSERT INTO time_entries SELECT {entry}, resource_id, project_id, task_code, date_performed,
                time_in_minutes, billable, 'approved', '{stamp}', '{stamp}', approver_resource_id, NULL, 1, NULL,
                '{stamp}' FROM time_entries WHERE status = 'approved' LIMIT 1"""
        )
        return entry

    def hold_project(self, stamp: str) -> None:
        project = self.ids("SELECT project_id FROM projects WHERE status = 'active'", 1)
        self.update("projects", "project_id", project, "status = 'on_hold'", stamp)

    def change_assignment(self, stamp: str) -> None:
        assignment = self.ids("SELECT assignment_id FROM assignments", 1)
        self.update("assignments", "assignment_id", assignment, "role = 'Principal'", stamp)

    def commit(self) -> None:
        self.db.commit()


def _rate_card_drop(landing: Path, d: date) -> None:
    """A new rate card snapshot dated ``d`` with every rate 5 % up: master data that cannot be bounded."""
    latest = sorted((landing / "erp").glob("rate_cards_*.csv"))[-1]
    lines = latest.read_text().splitlines()
    header = lines[0].split(",")
    rate = header.index("Hourly Rate")
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        cells[rate] = f"{float(cells[rate]) * 1.05:.2f}"
        out.append(",".join(cells))
    (landing / "erp" / f"rate_cards_{d}.csv").write_text("\n".join(out) + "\n")


def _recomputed(result, table: str = "time_to_bill") -> str:
    """What the run recomputed of ``table`` (one step: the same for each legal entity's partition it wrote)."""
    said = {
        m.event_specific_data.materialization.metadata["recomputed"].value
        for m in result.get_asset_materialization_events()
        if m.asset_key.path == ["recon", table]
    }
    [recomputed] = said
    return recomputed


@pytest.mark.long
def test_every_incremental_rerun_of_a_date_reads_exactly_what_a_full_recompute_reads(tmp_path):
    landing = tmp_path / "landing"
    m = generate_estate(EstateConfig(out=landing, employees=30, months=3, seed=11, progress=False))
    wh = tmp_path / "wh.duckdb"
    end = date.fromisoformat(m["as_of"])
    # no batch yet: the unbilled work of a capped contract still crosses its cap the next day
    assert materialize_as_of(landing, wh, end.isoformat(), assets=SYNC).success
    day1, day2 = end + timedelta(days=1), end + timedelta(days=2)
    rounds = [  # (date, hour, what changes, assets run)
        (day1, 8, {"entries"}, SYNC),
        (day1, 11, {"entries", "cap"}, SYNC),
        (day1, 14, {"entries", "project", "assignment"}, SYNC),
        (day1, 20, set(), all_assets()),  # the night: a batch is emitted for day 1
        (day1, 21, {"entries", "orphan"}, SYNC),  # a rerun after it: the batch's entries are BATCHED now
        (day2, 8, {"entries"}, SYNC),
        (day2, 11, {"entries", "project"}, SYNC),
        (day2, 14, {"rate_card"}, SYNC),
    ]
    psa = Psa(landing, random.Random(15))
    seen = []
    kinds = {table: [] for table in RECON[1:]}
    for day, hour, changes, assets in rounds:
        stamp = f"{day} {hour:02d}:00:00.000000"
        con = duckdb.connect(str(wh), read_only=True)
        before = {r[0]: r for r in _published(con, day)}
        touched = psa.touch_entries(stamp, 3) if "entries" in changes else set()
        if "cap" in changes:
            touched |= psa.shift_cap(con, day, stamp)
        orphan = psa.arrive_for_orphan_line(con, day, stamp) if "orphan" in changes else None
        con.close()
        if "project" in changes:
            psa.hold_project(stamp)
        if "assignment" in changes:
            psa.change_assignment(stamp)
        if "rate_card" in changes:
            _rate_card_drop(landing, day)
        psa.commit()
        result = materialize_as_of(landing, wh, day.isoformat(), assets=assets)
        recomputed = _recomputed(result)
        seen.append(recomputed)

        con = duckdb.connect(str(wh), read_only=True)
        published, full = _published(con, day), _full_recompute(con, day)
        assert len(published) == len(full) > 100
        assert _digest(published) == _digest(full), f"{day} {hour}:00 ({recomputed}) differs from a full recompute"
        for table in RECON[1:]:
            assert _published(con, day, table) == _full_recompute(con, day, table), f"{table} on {day} {hour}:00"
        assert _open_recon_exceptions(con) == _expected_exceptions(con, day)
        after = {r[0]: r for r in published}
        for table in RECON[1:]:
            kinds[table].append(_recomputed(result, table))
        if orphan is not None:  # the line is matched now, and only the lines of the arrived entries were rewritten
            assert "entries whose inputs changed" in _recomputed(result, "billing_line_exceptions")
            assert orphan not in {r[4] for r in _published(con, day, "billing_line_exceptions")}
        con.close()
        if "cap" in changes:
            # the cap now falls at another entry than the one edited: the contract's other entries were recomputed
            moved = {k for k in after if k in before and after[k] != before[k]} - touched
            assert moved, f"{day} {hour}:00: the cap shift changed no other entry"
    assert seen[0].startswith("whole date (no earlier run") and seen[5].startswith("whole date (no earlier run")
    assert all("entries whose inputs changed" in r for r in seen[1:5] + seen[6:7]), seen
    assert seen[-1] == "whole date (canonical.rate_card_history changed)", seen[-1]
    # the other recon tables reran incrementally after entries alone arrived (rounds 2 and 5), whole otherwise
    for table, runs in kinds.items():
        assert "entries whose inputs changed" in runs[1] and "entries whose inputs changed" in runs[4], (table, runs)


def test_a_changed_as_of_macro_makes_the_next_rerun_recompute_the_date_whole(monkeypatch):
    """The SQL a recon write depends on includes the canonical as-of macros it reads through (an entry's version
    rule, say): changing one changes the fingerprint the next run compares, so that run is not incremental."""
    params = {"as_of": date(2026, 9, 30), "reporting": "USD", "scoped": False}
    before = incremental.query_fingerprint(params)
    real = incremental.sql_text
    monkeypatch.setattr(
        incremental,
        "sql_text",
        lambda name: real(name) + ("\n-- changed" if name == "canonical/time_entry_asof" else ""),
    )
    assert incremental.query_fingerprint(params) != before
    monkeypatch.setattr(
        incremental, "sql_text", lambda name: real(name) + ("\n-- changed" if name == "marts/backlog" else "")
    )
    assert incremental.query_fingerprint(params) == before  # SQL recon does not read leaves it alone
