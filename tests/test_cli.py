"""The pssync command line: every subcommand has --help; generate, run, exceptions and batches work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dagster_project.cli import build_parser, main
from tests.helpers import isolate_settings

SUBCOMMANDS = ["generate", "run", "demo", "exceptions", "batches", "report", "bench"]


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help(sub):
    out = subprocess.run([sys.executable, "-m", "dagster_project.cli", sub, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: pssync" in out.stdout


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


def test_parser_rejects_a_bad_date():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--as-of", "30/09/2026"])
