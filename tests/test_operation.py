"""A month of nightly operation: the warehouse grows with what changed, and any past date replays exactly."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import duckdb
import pytest

from estate import EstateConfig, generate_estate
from tests.helpers import all_assets, materialize_as_of

DAYS = 30


def _recon_rows(con, d: date) -> list[tuple]:
    return con.execute("SELECT * FROM recon.time_to_bill WHERE as_of_date = ? ORDER BY time_entry_id", [d]).fetchall()


def _differences(con, then: set[tuple], now: set[tuple]) -> list[str]:
    """Per entry that differs, the columns that differ (then -> now)."""
    names = [r[0] for r in con.execute("DESCRIBE recon.time_to_bill").fetchall()]
    a, b = {r[0]: r for r in then - now}, {r[0]: r for r in now - then}
    return [
        f"{k}: " + ", ".join(f"{n} {x!r} -> {y!r}" for n, x, y in zip(names, a.get(k, ()), b.get(k, ())) if x != y)
        for k in sorted(a.keys() | b.keys())[:5]
    ]


def _recon_digest(con, d: date) -> tuple[int, str]:
    """Rows of recon.time_to_bill on a date, and a hash over every column of every row."""
    rows = _recon_rows(con, d)
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def _stored_versions(con, after: date | None = None) -> int:
    """Versions of recon.time_to_bill stored, in every legal entity's part (started after ``after``, if given)."""
    from assets.versions import entity_parts, entity_table, store_of

    parts = [store_of(entity_table("recon.time_to_bill", e)) for e in entity_parts(con, "recon.time_to_bill")]
    assert len(parts) >= 3, "the estate reconciles in several legal entities"
    since = "" if after is None else f" WHERE valid_from > DATE '{after}'"
    return sum(con.execute(f"SELECT count(*) FROM {p}{since}").fetchall()[0][0] for p in parts)


@pytest.mark.long
def test_a_month_of_nights_stores_what_changed_and_replays_a_date_twenty_days_back_exactly(tmp_path):
    landing = tmp_path / "landing"
    m = generate_estate(EstateConfig(out=landing, employees=40, months=2, seed=5, progress=False))
    end = date.fromisoformat(m["as_of"])
    days = [end - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    everything = all_assets()
    partitioned = [a for a in everything if a.partitions_def is not None]
    assert materialize_as_of(landing, wh, days[0].isoformat(), assets=everything, outputs=out).success
    for d in days[1:]:
        assert materialize_as_of(landing, wh, d.isoformat(), assets=partitioned, outputs=out).success

    con = duckdb.connect(str(wh), read_only=True)
    digests = {d: _recon_digest(con, d) for d in days}
    replayed = days[DAYS - 1 - 20]
    rows_then = set(_recon_rows(con, replayed))
    per_date = [n for n, _ in digests.values()]
    stored = _stored_versions(con)
    changed = _stored_versions(con, days[0])  # versions started after the first night: what changed, night by night
    con.close()
    assert min(per_date) > 100
    # a copy per night would be the sum of the nights; versions are the first night plus what changed since
    assert stored == per_date[0] + changed
    # here: 600 entries on the first night, 1,480 on the last, 2,567 versions where copies would be 31,000
    assert stored < sum(per_date) / 8

    batch_files = sorted((out / "billing_batches").glob(f"*-{replayed:%Y%m%d}.json"))
    assert batch_files, f"no batch on {replayed}: pick an estate that bills then"
    before = {p.name: p.read_bytes() for p in batch_files}
    out2 = tmp_path / "replay"
    assert materialize_as_of(landing, wh, replayed.isoformat(), assets=partitioned, outputs=out2).success
    con = duckdb.connect(str(wh), read_only=True)
    rows_now = set(_recon_rows(con, replayed))
    assert rows_now == rows_then, _differences(con, rows_then, rows_now)
    assert {d: _recon_digest(con, d) for d in days} == digests  # and every other date still reads the same
    assert _stored_versions(con) == stored
    con.close()
    assert {p.name: p.read_bytes() for p in (out2 / "billing_batches").glob(f"*-{replayed:%Y%m%d}.json")} == before


def test_compaction_gives_space_back_and_keeps_every_row(tmp_path):
    """DuckDB never shrinks its file; `pssync compact` copies it into a new one and swaps it in."""
    from dagster_project.cli import main

    landing = tmp_path / "landing"
    m = generate_estate(EstateConfig(out=landing, employees=20, months=2, seed=3, progress=False))
    end = date.fromisoformat(m["as_of"])
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    assert materialize_as_of(landing, wh, (end - timedelta(days=1)).isoformat(), outputs=out).success
    con = duckdb.connect(str(wh))
    con.execute(
        "CREATE TABLE ops.scratch AS SELECT range AS i, md5(range::VARCHAR) || md5((-range)::VARCHAR) AS pad "
        "FROM range(1000000)"
    )
    con.execute("CHECKPOINT")
    con.execute("DELETE FROM ops.scratch WHERE i % 10 <> 0")  # as deleting old rows does: the file stays as large
    con.execute("CHECKPOINT")
    digest = _recon_digest(con, end - timedelta(days=1))
    con.close()
    before = wh.stat().st_size
    assert main(["compact", "--warehouse", str(wh)]) == 0
    assert wh.stat().st_size < before / 2
    con = duckdb.connect(str(wh), read_only=True)
    assert _recon_digest(con, end - timedelta(days=1)) == digest  # the view, its macro and every row came along
    con.close()
    assert materialize_as_of(landing, wh, end.isoformat(), outputs=out).success  # and the next night runs on it


def test_a_backfill_before_the_first_extraction_invents_no_unknown_project_or_orphan_line(tmp_path):
    """The PSA keeps only a row's current version. Extracted after the fact, a project put on hold on day 20 has no
    version before it: backfilling day 15 used to find every invoice line of that project UNKNOWN_PROJECT (and
    lines of entries edited after day 15 ORPHAN_BILLING_LINE). Now the first known version stands in, marked
    reconstructed, and billing on it is held; the only unmatched lines left are the generator's own."""
    landing = tmp_path / "landing"
    m = generate_estate(EstateConfig(out=landing, employees=60, months=4, seed=11, progress=False))
    end = date.fromisoformat(m["as_of"])
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    assert materialize_as_of(landing, wh, end.isoformat(), outputs=out).success  # the first extraction: today
    injected = {(x["invoice_number"], x["line"]) for x in m["billing_line_exceptions"]}
    partitioned = [a for a in all_assets() if a.partitions_def is not None]
    for back in (15, 25):
        d = end - timedelta(days=back)
        assert materialize_as_of(landing, wh, d.isoformat(), assets=partitioned, outputs=out).success
        con = duckdb.connect(str(wh), read_only=True)
        unmatched = con.execute(
            "SELECT invoice_number, line FROM recon.billing_line_exceptions WHERE as_of_date = ?", [d]
        ).fetchall()
        held = con.execute(
            "SELECT DISTINCT scope_key FROM recon.billing_holds WHERE as_of_date = ? AND rule = 'reconstructed' "
            "AND scope = 'project'",
            [d],
        ).fetchall()
        billed_held = con.execute(  # nothing is emitted for a project standing in with a later version
            "SELECT count(*) FROM billing.batch_lines b JOIN canonical.project_asof(?) p USING (project_code) "
            "WHERE b.as_of_date = ? AND p.reconstructed",
            [d, d],
        ).fetchall()[0][0]
        con.close()
        assert set(unmatched) <= injected, f"{d}: {sorted(set(unmatched) - injected)[:5]}"
        assert held, f"{d}: the estate has no project changed after it; the rule is not exercised"
        assert billed_held == 0
