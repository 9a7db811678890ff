"""The pssync command line: every subcommand has --help; generate, run, exceptions and batches work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from dagster_project.cli import COMMANDS, JOB_NAMES, build_parser, main
from dagster_project.cli.main import command
from dagster_project.jobs import JOBS
from resources.fingerprint import file_digests
from tests.helpers import isolate_settings, query
from tests.scenario import Scenario

# every subcommand the parser offers, read from the parser itself: a new command is covered without a list to keep
SUBCOMMANDS = sorted(next(a for a in build_parser()._actions if a.dest == "command").choices)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help_even_with_a_wrong_setting(sub):
    wrong = {**os.environ, "PSSYNC_DUCKDB_MEMORY_LIMIT": "bogus"}  # refused by every command that reads settings
    out = subprocess.run(
        [sys.executable, "-m", "dagster_project.cli", sub, "--help"], capture_output=True, text=True, env=wrong
    )
    assert out.returncode == 0 and "usage: pssync" in out.stdout
    assert out.stderr == "", "help writes nothing else: no library warning, no settings error on stderr"


def test_the_dispatch_table_runs_every_subcommand_and_only_those():
    assert sorted(COMMANDS) == SUBCOMMANDS
    assert all(callable(command(name)) for name in SUBCOMMANDS)


def test_help_loads_neither_dagster_nor_the_generator():
    """`pssync --help` answers at once: the parser imports no asset, no Dagster, and never the estate generator or
    the benchmarks (they stand beside the product)."""
    code = "import sys; from dagster_project.cli import build_parser; build_parser(); print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("'dagster'", "'duckdb'", "'estate'", "'benchmarks'", "'assets'"):
        assert heavy not in loaded


def test_the_jobs_run_offers_are_the_jobs_defined():
    assert list(JOB_NAMES) == [j.name for j in JOBS]


def test_generate_run_and_list_for_finance(tmp_path, monkeypatch, capsys):
    isolate_settings(monkeypatch)
    landing, wh, out = tmp_path / "landing", tmp_path / "wh.duckdb", tmp_path / "out"
    assert (
        main(["generate", "--out", str(landing), "--employees", "60", "--months", "3", "--seed", "5", "--quiet"]) == 0
    )
    manifest = json.loads((landing / "_truth" / "manifest.json").read_text())
    as_of = manifest["as_of"]
    assert (
        main(["run", "--as-of", as_of, "--landing-dir", str(landing), "--warehouse", str(wh), "--output-dir", str(out)])
        == 0
    )
    capsys.readouterr()
    assert main(["exceptions", "--as-of", as_of, "--warehouse", str(wh), "--owner", "finance", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    flagged_finance = {str(c["time_entry_id"]) for c in manifest["time_entries"] if c["owner"] == "finance"}
    assert {r["record_key"] for r in rows if r["kind"] == "time_entry"} == flagged_finance
    assert all(r["owner"] == "finance" for r in rows)
    assert main(["batches", "--as-of", as_of, "--warehouse", str(wh), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("batch_id,as_of_date,legal_entity")
    assert len(lines) - 1 == len(list((out / "billing_batches").glob("*.json")))
    assert main(["exceptions", "--as-of", "2020-01-01", "--warehouse", str(wh)]) == 2


@pytest.mark.parametrize("text", ["30/09/2026", "20260930", "2026-W40-3"])
def test_parser_rejects_a_date_not_written_yyyy_mm_dd(capsys, text):
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["run", "--as-of", text])
    assert stopped.value.code == 2
    assert f"not a YYYY-MM-DD date: '{text}'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_query_shows_durations_and_lists_in_every_format(tmp_path, capsys, fmt):
    """ops.sync_runs has an INTERVAL column and SHOW ALL TABLES lists: both answered, never a traceback."""
    import duckdb

    snapshot = tmp_path / "snap.duckdb"
    con = duckdb.connect(str(snapshot))
    con.execute("CREATE TABLE runs AS SELECT INTERVAL 90 MINUTE AS took, ['a', 'b'] AS names, 7 AS n")
    con.close()
    assert main(["query", "SELECT * FROM runs", "--snapshot", str(snapshot), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "01:30:00" in out and "7" in out
    if fmt == "csv":
        assert out.splitlines()[1] == '01:30:00,"[""a"", ""b""]",7'


@pytest.mark.long
def test_backfill_settles_dates_in_order_stops_where_one_cannot_run_and_reruns_identically(
    tmp_path, monkeypatch, capsys
):
    from dagster_project.lock import warehouse_lock

    isolate_settings(monkeypatch)
    s = Scenario(tmp_path / "landing")
    s.entry(1, "2026-03-14")  # approved 03-14 18:00: 8.00 h x 100.00 = 800.00, billed as of 03-14
    s.entry(2, "2026-03-16", minutes=50)  # 0.83 h x 110.00 (the rate from 03-15) = 91.30, billed as of 03-16
    s.write()
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    where = ["--landing-dir", str(s.root), "--warehouse", str(wh), "--output-dir", str(out)]
    backfill = ["backfill", "--from", "2026-03-14", "--to", "2026-03-16", *where]

    # another run holds the warehouse: the backfill stops at its first date, says why and how to go on
    with warehouse_lock(str(wh), None, holder="pssync compact"):
        assert main(backfill) == 75
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pssync backfill 2026-03-14..2026-03-16: STOPPED at 2026-03-14 (0 date(s) settled")
    assert "in use by pssync compact" in err[-1] and err[-1].endswith(
        "`pssync backfill --from 2026-03-14 --to 2026-03-16` goes on"
    )
    assert not wh.exists()

    assert main(backfill) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    verdicts = [ln for ln in lines if ": OK — " in ln and ln.startswith("pssync run")]
    assert verdicts == [
        "pssync run 2026-03-14: OK — 1 batch(es), 1 line(s), net 800.00 USD",
        "pssync run 2026-03-15: OK — 0 batch(es), 0 line(s), net nothing to bill",
        "pssync run 2026-03-16: OK — 1 batch(es), 1 line(s), net 91.30 USD",
    ]
    assert lines[-1] == "pssync backfill 2026-03-14..2026-03-16: OK — 3 date(s) settled in date order"
    files = file_digests(out / "billing_batches")
    assert sorted(files) == ["BB-US01-1001-USD-20260314.json", "BB-US01-1001-USD-20260316.json"]

    # the same backfill again: the same files byte for byte, no key billed twice
    assert main(backfill) == 0
    assert file_digests(out / "billing_batches") == files
    assert query(wh, "SELECT count(*), count(DISTINCT idempotency_key) FROM billing.ledger") == [(2, 2)]

    # a range the partitions do not hold is refused before any date runs
    capsys.readouterr()
    assert main(["backfill", "--from", "2026-03-16", "--to", "2026-03-13", *where]) == 2
    assert "NOT STARTED — --to 2026-03-13 is before --from 2026-03-16" in capsys.readouterr().err


def test_reads_while_a_run_writes_say_who_holds_the_warehouse_in_one_line(tmp_path, monkeypatch, capsys):
    """DuckDB lets no other process open a file one process writes: exceptions, batches and report said so in a
    14-line traceback (exit 1). Now one line naming the run that holds it, and exit 75 as for a run."""
    import duckdb

    from dagster_project.lock import warehouse_lock

    isolate_settings(monkeypatch)
    wh = tmp_path / "wh.duckdb"
    duckdb.connect(str(wh)).close()
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(wh)!r}); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        with warehouse_lock(str(wh), date.fromisoformat("2026-09-30")):  # what the run's lock file says
            for command in (
                ["exceptions", "--as-of", "2026-09-30"],
                ["batches", "--as-of", "2026-09-30"],
                ["report", "--as-of", "2026-09-30", "--output-dir", str(tmp_path / "out")],
            ):
                assert main([*command, "--warehouse", str(wh)]) == 75
                err = capsys.readouterr().err.strip().splitlines()
                assert len(err) == 1 and err[0].startswith(f"pssync {command[0]}: the warehouse {wh} is being written")
                assert "pssync run as-of 2026-09-30" in err[0] and "pssync query" in err[0]
    finally:
        writer.kill()
        writer.wait()
