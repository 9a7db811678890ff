"""One settings object: where each value comes from, what a wrong one says, and what a run records."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from dagster_project.cli import main
from dagster_project.schedules import hourly_sync_schedule
from resources.settings import PssyncSettings, SettingsError, current, install, uninstall
from tests.helpers import isolate_settings


def test_options_win_over_the_environment_which_wins_over_defaults(monkeypatch, tmp_path):
    isolate_settings(monkeypatch)
    monkeypatch.setenv("PSSYNC_REPORTING_CURRENCY", "EUR")
    monkeypatch.setenv("PSSYNC_WAREHOUSE", str(tmp_path / "env.duckdb"))
    s = PssyncSettings.from_env({"warehouse": str(tmp_path / "cli.duckdb")}, defaults={"reporting_currency": "GBP"})
    assert s.warehouse == str(tmp_path / "cli.duckdb") and s.reporting_currency == "EUR"
    assert s.outputs == str(tmp_path / "output"), "outputs default to the folder beside the warehouse"
    assert PssyncSettings.from_env().staffing_threshold == 50


@pytest.mark.parametrize(
    "variable, value, says",
    [
        ("PSSYNC_REPORTING_CURRENCY", "usd", "three-letter ISO currency code"),
        ("PSSYNC_STAFFING_THRESHOLD", "fifty", "valid number"),
        ("PSSYNC_STAFFING_THRESHOLD", "150", "0 to 100"),
        ("PSSYNC_PSA_TIMEOUT", "0", "more than 0"),
        ("PSSYNC_PARTITION_START", "2025-13-01", "YYYY-MM-DD"),
        ("PSSYNC_RECON_INCREMENTAL", "sometimes", "valid boolean"),
        ("PSSYNC_WORKFLOW_URL", "not a url", "not a database URL"),
        ("PSSYNC_EXCEPTION_SLA_DAYS", "finance=5", "owner:days pairs"),
        ("PSSYNC_EXCEPTION_SLA_DAYS", "finance:-1", "owner:days pairs"),
        ("PSSYNC_EXCEPTION_SLA_URGENT", "lots", "AMOUNT:DAYS"),
        ("PSSYNC_DUAL_APPROVAL_ABOVE", "off", "lives in the workflow store"),  # retired: never read, never ignored
        ("PSSYNC_PSA_TIMEOUT", "inf", "at most 86400"),
        ("PSSYNC_PSA_TIMEOUT", "nan", "at most 86400"),
        ("PSSYNC_EXCEPTION_SLA_DAYS", "finance:99999999999", "0 to 3650 days"),
        ("PSSYNC_EXCEPTION_SLA_URGENT", "1e99999:2", "AMOUNT:DAYS"),
        ("PSSYNC_EVENT_MAX_ATTEMPTS", "1000000", "from 1 to 100"),
        ("PSSYNC_WEBHOOK_URLS", "ftp://hooks.example.com/x", "not an http(s) URL"),
        ("PSSYNC_NATS_URL", "http://127.0.0.1:4222", "not a NATS URL"),
        ("PSSYNC_EVENT_MAX_ATTEMPTS", "0", "from 1 to 100"),
        ("PSSYNC_EXECUTOR", "threads", "one of in_process, celery"),
        ("PSSYNC_EXECUTOR", "celery", "they need a shared warehouse"),  # the default warehouse is an embedded file
        ("PSSYNC_CELERY_BROKER", "127.0.0.1:6379", "not a Celery URL"),
        ("PSSYNC_DUCKDB_MEMORY_LIMIT", "4", "not a memory cap DuckDB can work in, such as 4GB"),
        ("PSSYNC_DUCKDB_MEMORY_LIMIT", "four gigabytes", "not a memory cap DuckDB can work in, such as 4GB"),
        ("PSSYNC_DUCKDB_MEMORY_LIMIT", "0GB", "not a memory cap DuckDB can work in, such as 4GB (Out of Memory"),
    ],
)
def test_a_wrong_setting_names_its_variable_value_and_rule(monkeypatch, variable, value, says):
    isolate_settings(monkeypatch)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as err:
        PssyncSettings.from_env()
    assert str(err.value).startswith(f"{variable}=") and says in str(err.value)


@pytest.mark.parametrize(
    "typo, meant",
    [("PSSYNC_REPORTNG_CURRENCY", "PSSYNC_REPORTING_CURRENCY"), ("PSSYNC_WAREHOUS", "PSSYNC_WAREHOUSE")],
)
def test_a_misspelt_variable_stops_the_command_and_names_the_one_meant(monkeypatch, tmp_path, capsys, typo, meant):
    """A typo left the default in force without a word (a USD report, the demo warehouse read): now exit 2."""
    isolate_settings(monkeypatch)
    monkeypatch.setenv(typo, "EUR")
    assert main(["batches", "--as-of", "2026-09-30", "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    err = capsys.readouterr().err.strip()
    said = f"{typo}: pssync reads no such variable (did you mean {meant}?); unset it or correct its name"
    assert err == f"pssync batches: {said}"
    monkeypatch.setenv("PSSYNC_PASSWORD", "x")  # read by the command line, not a setting: known
    monkeypatch.delenv(typo)
    assert PssyncSettings.from_env().reporting_currency == "USD"


def test_the_command_line_refuses_a_wrong_setting_in_one_line(monkeypatch, tmp_path, capsys):
    isolate_settings(monkeypatch)
    code = main(
        ["run", "--as-of", "2026-09-30", "--warehouse", str(tmp_path / "w.duckdb"), "--reporting-currency", "usd"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [
        "pssync run: PSSYNC_REPORTING_CURRENCY='usd': not a three-letter ISO currency code such as USD"
    ]
    assert not (tmp_path / "w.duckdb").exists(), "nothing ran"


def test_a_wrong_setting_in_the_environment_is_refused_in_one_line_before_anything_loads(tmp_path):
    """A wrong variable in the environment is named in one line by the command that reads it, not a trace, and
    nothing runs."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PSSYNC_DUCKDB_MEMORY_LIMIT": "4", "PSSYNC_WAREHOUSE": str(tmp_path / "w.duckdb")}
    done = subprocess.run(
        [sys.executable, "-m", "dagster_project.cli", "run", "--as-of", "2026-09-30"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "pssync run: PSSYNC_DUCKDB_MEMORY_LIMIT='4': not a memory cap DuckDB can work in, such as 4GB (Parser Error: "
        "Unknown unit for memory: '' (expected: KB, MB, GB, TB for 1000^i units or KiB, MiB, GiB, TiB for 1024^i "
        "units))"
    ]
    assert not (tmp_path / "w.duckdb").exists(), "nothing ran"


def test_a_run_that_outgrows_duckdbs_memory_cap_says_which_setting_to_raise(
    monkeypatch, tmp_path, capsys, small_estate
):
    isolate_settings(monkeypatch)
    monkeypatch.setenv("PSSYNC_DUCKDB_MEMORY_LIMIT", "1MB")
    args = ["run", "--as-of", "2026-09-30", "--landing-dir", str(small_estate), "--warehouse", str(tmp_path / "w")]
    assert main(args) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("pssync run 2026-09-30: FAILED — raw/") and "OutOfMemoryException" in last
    assert "(DuckDB's cap PSSYNC_DUCKDB_MEMORY_LIMIT=1MB is too small for this step: raise it; operations.md)" in last


def test_a_run_whose_workflow_store_cannot_be_opened_does_not_start(monkeypatch, tmp_path, capsys, small_estate):
    isolate_settings(monkeypatch)
    wh = tmp_path / "w.duckdb"
    args = ["run", "--as-of", "2026-09-30", "--landing-dir", str(small_estate), "--warehouse", str(wh)]
    assert main([*args, "--workflow-url", "postgresql+psycopg://nobody@127.0.0.1:1/workflow"]) == 2
    err = capsys.readouterr().err
    assert (
        "NOT STARTED" in err
        and "PSSYNC_WORKFLOW_URL (--workflow-url): cannot open postgresql+psycopg://nobody@127.0.0.1:1" in err
    )
    assert not wh.exists(), "nothing ran"


def test_runs_carry_the_settings_they_use_as_tags_without_passwords(monkeypatch):
    isolate_settings(monkeypatch)
    monkeypatch.setenv("PSSYNC_REPORTING_CURRENCY", "EUR")
    monkeypatch.setenv("PSSYNC_ERP_STAGING_URL", "postgresql+psycopg://finance:s3cret@db.example/erp")
    monkeypatch.setenv("PSSYNC_PSA_URL", "postgresql+psycopg://psa:t0psecret@db.example/psa")
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 10, 1, 13, 15, tzinfo=UTC))
    tags = hourly_sync_schedule(ctx).tags
    assert tags["pssync/reporting_currency"] == "EUR" and tags["pssync/as_of"] == "2026-10-01"
    assert "s3cret" not in str(tags) and tags["pssync/erp_staging_url"].startswith("postgresql+psycopg://finance:***@")
    assert "t0psecret" not in str(tags) and tags["pssync/psa_url"].startswith("postgresql+psycopg://psa:***@")


def test_the_command_lines_settings_are_in_force_only_while_it_runs(monkeypatch):
    isolate_settings(monkeypatch)
    install(PssyncSettings(reporting_currency="CHF"))
    try:
        assert current().reporting_currency == "CHF"
    finally:
        uninstall()
    assert current().reporting_currency == "USD"


def test_a_run_on_a_shared_warehouse_names_what_it_lacks(monkeypatch, tmp_path, capsys, small_estate):
    """A shared warehouse needs its own outputs folder and workbench store, and DuckDB with the DuckLake extension:
    each missing piece is one line naming its setting, and nothing runs."""
    import importlib.util

    isolate_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    lake = "ducklake:postgres:dbname=pssync_absent host=127.0.0.1 port=1"
    code = main(["run", "--as-of", "2026-09-30", "--landing-dir", str(small_estate), "--warehouse", lake])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    needs = f"required with a shared warehouse (PSSYNC_WAREHOUSE={lake})"
    assert f"pssync run 2026-09-30: NOT STARTED — PSSYNC_OUTPUT_DIR (--output-dir): {needs}" in err
    assert f"pssync run 2026-09-30: NOT STARTED — PSSYNC_WORKFLOW_URL (--workflow-url): {needs}" in err
    if importlib.util.find_spec("duckdb_extension_ducklake") is None:  # the embedded environment (DuckDB 2)
        assert any("cannot load the ducklake extension: install pssync[shared]" in line for line in err), err
    else:  # the shared environment: the catalog's server is unreachable, and the line says which warehouse
        assert any(line.split("— ", 1)[1].startswith(f"PSSYNC_WAREHOUSE={lake!r}") for line in err), err
    assert list(tmp_path.iterdir()) == [], "nothing ran, nothing was written"


def test_a_run_whose_dagster_instance_cannot_be_opened_does_not_start(monkeypatch, tmp_path, capsys, small_estate):
    """DAGSTER_HOME names an instance whose dagster.yaml reads a variable nobody set: the run says which, in one
    line, before any step, and no Dagster trace reaches the terminal."""
    isolate_settings(monkeypatch)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("storage:\n  sqlite:\n    base_dir:\n      env: PSSYNC_TEST_NEVER_SET\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("PSSYNC_TEST_NEVER_SET", raising=False)
    wh = tmp_path / "w.duckdb"
    code = main(["run", "--as-of", "2026-09-30", "--landing-dir", str(small_estate), "--warehouse", str(wh)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [
        f"pssync run 2026-09-30: NOT STARTED — DAGSTER_HOME={home}: the Dagster instance cannot be opened: You have "
        'attempted to fetch the environment variable "PSSYNC_TEST_NEVER_SET" which is not set.'
    ]
    assert not wh.exists(), "nothing ran"
