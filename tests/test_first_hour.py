"""The first hour of a new user: a small firm is not refused, a run explains itself, numbers agree, hints work."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dagster_project.cli import main
from tests.helpers import all_assets, isolate_settings, materialize_as_of, query
from tests.scenario import Scenario, acc, con

AS_OF = "2026-03-31"


def boutique(root) -> Scenario:
    """A firm with four CRM accounts; the fourth is not yet mapped to an ERP customer (a master-data gap)."""
    s = Scenario(root)
    for n in (2, 3, 4):
        s.accounts.append(
            dict(
                Id=acc(n),
                Name=f"Client {n}",
                BillingCountry="US",
                CurrencyIsoCode="USD",
                Industry=None,
                ERP_Customer_Id__c=None if n == 4 else str(1000 + n),
                IsDeleted=False,
                SystemModstamp="2026-01-01T00:00:00.000Z",
            )
        )
        if n != 4:
            s.customers.append(
                dict(id=1000 + n, code=f"CUST-000{n}", name=f"Client {n}", sf=acc(n), tax="US-EXEMPT", currency="USD")
            )
        s.contracts.append(s.contract_row(n, account=n))
        s.projects.append(s.project_row(n, contract=con(n), account=n))
    for n in (1, 2, 3, 4):
        s.entry(10 * n, "2026-03-10", project=n)
        s.entry(10 * n + 1, "2026-03-11", project=n)
    return s


def test_a_boutique_firm_with_an_unmapped_customer_bills_the_rest_and_builds_the_marts(tmp_path):
    from dagster_project.verdict import verdict

    s = boutique(tmp_path / "landing")
    s.write()
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    result = materialize_as_of(s.root, wh, AS_OF, outputs=out, assets=all_assets(marts=True), raise_on_error=False)
    line, code = verdict(result, date.fromisoformat(AS_OF), str(wh))
    assert result.success and code == 0, line
    statuses = dict(
        query(wh, "SELECT time_entry_id, recon_status || ':' || coalesce(reason, '') FROM recon.time_to_bill")
    )
    assert statuses == {
        10: "UNBILLED:",
        11: "UNBILLED:",
        20: "UNBILLED:",
        21: "UNBILLED:",
        30: "UNBILLED:",
        31: "UNBILLED:",
        40: "INELIGIBLE:UNMAPPED_CUSTOMER",
        41: "INELIGIBLE:UNMAPPED_CUSTOMER",
    }
    batches = query(wh, "SELECT customer_id, line_count, net_amount FROM billing.batches ORDER BY 1")
    assert batches == [(1001, 2, Decimal("1600.00")), (1002, 2, Decimal("1600.00")), (1003, 2, Decimal("1600.00"))]
    assert "3 batch(es), 6 line(s), net 4,800.00 USD" in line
    assert query(wh, "SELECT count(*) > 0 FROM marts.utilization_weekly")[0][0]
    assert query(wh, "SELECT count(*) FROM marts.unbilled_wip WHERE project_code = 'P-4'")[0][0] == 1


def test_a_broken_feed_holds_billing_only_and_says_why_on_the_last_line(tmp_path, monkeypatch, capsys):
    isolate_settings(monkeypatch)
    s = boutique(tmp_path / "landing")
    s.rate_cards = []  # the ERP exported an empty rate card file
    s.write()
    wh = tmp_path / "wh.duckdb"
    code = main(["run", "--as-of", AS_OF, "--landing-dir", str(s.root), "--warehouse", str(wh)])
    lines = capsys.readouterr().out.strip().splitlines()
    last = lines[-1]
    assert lines[0].startswith(f"pssync run {AS_OF}:")  # the as-of date first, then one line per stage
    assert [line.split()[0] for line in lines[1:-1]] == ["extract", "canonical", "recon", "billing", "marts"]
    assert code == 3
    assert last.startswith(f"pssync run {AS_OF}: OK") and "no rate cards loaded as of this date" in last, last
    assert query(wh, "SELECT count(*) FROM billing.batches")[0][0] == 0
    assert query(wh, "SELECT count(*) FROM marts.utilization_weekly")[0][0] > 0


def test_a_failing_blocking_check_gives_its_reason_on_the_last_line(tmp_path, monkeypatch, capsys):
    import assets.billing.emit as emit

    isolate_settings(monkeypatch)
    s = boutique(tmp_path / "landing")
    s.write()
    monkeypatch.setattr(emit, "integrity_problems", lambda *a: ["keys carried twice in this emission: ['X']"])
    code = main(["run", "--as-of", AS_OF, "--landing-dir", str(s.root), "--warehouse", str(tmp_path / "wh.duckdb")])
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert code == 1
    assert last.startswith(f"pssync run {AS_OF}: FAILED") and "keys carried twice in this emission" in last, last
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("case", ["landing", "warehouse", "output", "future", "before_start", "psa_database"])
def test_each_wrong_setting_is_one_line_naming_it(case, tmp_path, monkeypatch, capsys, request):
    isolate_settings(monkeypatch)
    s = boutique(tmp_path / "landing")
    s.write()
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    args = {
        "--as-of": AS_OF,
        "--landing-dir": str(s.root),
        "--warehouse": str(tmp_path / "wh.duckdb"),
        "--output-dir": str(tmp_path / "out"),
    }
    today = datetime.now(UTC).date()
    expected = {
        "landing": ("--landing-dir", str(tmp_path / "missing"), "PSSYNC_LANDING_DIR"),
        "warehouse": ("--warehouse", str(afile / "wh.duckdb"), "PSSYNC_WAREHOUSE"),
        "output": ("--output-dir", str(afile / "out"), "PSSYNC_OUTPUT_DIR"),
        "future": ("--as-of", str(today + timedelta(days=3)), f"2025-10-01..{today}"),
        "before_start": ("--as-of", "2020-01-01", f"2025-10-01..{today}"),
        "psa_database": ("--psa-url", "", "PSSYNC_PSA_URL"),
    }[case]
    option, value, named = expected
    if case == "psa_database":
        request.getfixturevalue("pg_database")  # skips outside CI without a server
        import sqlalchemy as sa

        from tests.conftest import PG_URL

        value = sa.engine.make_url(PG_URL).set(database="no_such_database").render_as_string(hide_password=False)
    args[option] = value
    code = main(["run", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and named in err[0] and "NOT STARTED" in err[0], err
    assert not (tmp_path / "wh.duckdb").exists() or case != "landing"


def test_a_plain_run_on_an_estate_that_ended_weeks_ago_asks_for_the_date(tmp_path, monkeypatch, capsys):
    isolate_settings(monkeypatch)
    s = boutique(tmp_path / "landing")
    s.write()
    code = main(["run", "--landing-dir", str(s.root), "--warehouse", str(tmp_path / "wh.duckdb")])
    err = capsys.readouterr().err
    assert code == 2 and "newest source file is from 2026-03-31" in err and "--as-of" in err
    assert not (tmp_path / "output").exists()


def test_open_exceptions_are_one_number_in_the_cli_the_summary_and_the_report(
    small_estate, tmp_path, monkeypatch, capsys
):
    from dagster_project.cli.demo import print_warehouse_summary as _print_warehouse_summary
    from tests.conftest import manifest

    isolate_settings(monkeypatch)
    as_of = manifest(small_estate)["as_of"]
    wh = tmp_path / "wh.duckdb"
    assert main(["run", "--as-of", as_of, "--landing-dir", str(small_estate), "--warehouse", str(wh)]) == 0
    capsys.readouterr()
    assert main(["exceptions", "--as-of", as_of, "--warehouse", str(wh), "--format", "json"]) == 0
    cli = len(json.loads(capsys.readouterr().out))
    _print_warehouse_summary(str(wh), date.fromisoformat(as_of), "USD")
    summary = capsys.readouterr().out
    said = int(re.search(r"open exceptions as of [\d-]+: ([\d,]+) \(", summary).group(1).replace(",", ""))
    assert main(["report", "--as-of", as_of, "--warehouse", str(wh)]) == 0
    page = (tmp_path / "output" / "reports" / f"pssync-report-{as_of}.html").read_text()  # beside the warehouse
    reported = sum(
        int(n.replace(",", ""))
        for n in re.findall(r"<td>(?:finance|delivery|hr|integration)</td><td>([\d,]+)</td>", page)
    )
    assert cli == said == reported > 0
    assert "USD" in summary and re.search(r"unbilled approved work \(WIP\): [\d,]+\.\d\d USD", summary)


def test_marts_hold_exact_hours_flag_the_open_week_and_fill_empty_buckets(small_estate, tmp_path):
    from tests.conftest import manifest

    as_of = manifest(small_estate)["as_of"]
    wh = tmp_path / "wh.duckdb"
    assert materialize_as_of(small_estate, wh, as_of, assets=all_assets(marts=True), outputs=tmp_path / "out").success
    types = dict(
        query(
            wh, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'utilization_weekly'"
        )
    )
    assert types["billable_hours"].startswith("DECIMAL") and types["total_hours"].startswith("DECIMAL")
    last_week = date.fromisoformat(as_of) - timedelta(days=date.fromisoformat(as_of).weekday())
    flags = dict(query(wh, "SELECT week_start, bool_and(week_complete) FROM marts.utilization_weekly GROUP BY 1"))
    assert flags[last_week] is False and all(v for k, v in flags.items() if k < last_week)
    nulls = query(
        wh,
        """SELECT count(*) FROM marts.unbilled_wip WHERE value_0_30 IS NULL OR value_31_60 IS NULL
                         OR value_61_90 IS NULL OR value_90_plus IS NULL OR unbilled_value_reporting IS NULL""",
    )
    assert nulls == [(0,)]
    assert query(wh, "SELECT DISTINCT reporting_currency FROM marts.unbilled_wip") == [("USD",)]
    # no float sums: running the date again gives every mart the same rows, to the last digit
    marts = (
        "utilization_weekly",
        "realization_monthly",
        "project_margin",
        "unbilled_wip",
        "invoice_cycle",
        "backlog",
        "staffing_forecast",
    )

    def digest():
        return {
            m: query(
                wh, f"SELECT md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) FROM marts.{m} t"
            )[0][0]
            for m in marts
        }

    first = digest()
    assert materialize_as_of(small_estate, wh, as_of, assets=all_assets(marts=True), outputs=tmp_path / "out").success
    assert digest() == first


def test_hints_that_work_as_written(tmp_path, monkeypatch, capsys):
    import importlib.util

    isolate_settings(monkeypatch)
    s = boutique(tmp_path / "landing")
    s.write()
    wh = tmp_path / "wh.duckdb"
    assert main(["run", "--as-of", AS_OF, "--landing-dir", str(s.root), "--warehouse", str(wh)]) == 0
    capsys.readouterr()
    assert main(["batches", "--as-of", AS_OF, "--batch", "NOPE", "--warehouse", str(wh)]) == 2
    assert "no batch 'NOPE'" in capsys.readouterr().err
    # analysts query the published snapshot without a DuckDB command-line tool
    assert main(["query", "SELECT count(*) AS n FROM billing.batches", "--warehouse", str(wh), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "3"]
    # the benchmarks say what they need before touching any file
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["bench", "--sizes", "S"]) == 2
    assert "make bench" in capsys.readouterr().err


def test_output_is_cut_short_without_a_traceback(tmp_path):
    import subprocess

    s = boutique(tmp_path / "landing")
    s.write()
    proc = subprocess.run(
        f"{sys.executable} -m dagster_project.cli generate --help | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
