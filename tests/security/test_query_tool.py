"""The analyst's query tool reads the published snapshot and nothing else, and never HR cost rates.

Before the control: `pssync query "ATTACH '<warehouse>' AS w (READ_ONLY false); DELETE FROM w.billing.ledger"` emptied
the ledger (the next run billed every key again), COPY wrote files, read_text read /etc/passwd, and
`select labor_cost from marts.project_margin` answered to anyone who could read the snapshot."""

from __future__ import annotations

import duckdb
import pytest

from dagster_project.cli import main
from tests.helpers import query


def _ask(capsys, out, sql: str) -> tuple[int, str, str]:
    code = main(["query", sql, "--output-dir", str(out), "--format", "csv"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_ledger_wipe_through_attach_is_refused_and_the_ledger_keeps_every_key(published, capsys):
    _landing, wh, out, _m = published
    keys = query(wh, "SELECT count(*) FROM billing.ledger")[0][0]
    assert keys > 100
    code, _, err = _ask(capsys, out, f"ATTACH '{wh}' AS w (READ_ONLY false); DELETE FROM w.billing.ledger")
    assert code == 2 and "disabled by configuration" in err and err.count("\n") == 1
    assert query(wh, "SELECT count(*) FROM billing.ledger")[0][0] == keys


@pytest.mark.parametrize(
    "sql, refusal",
    [
        ("COPY (SELECT 1 AS x) TO '{tmp}/leak.csv'", "disabled by configuration"),
        ("SELECT * FROM read_text('/etc/passwd')", "disabled by configuration"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("SELECT * FROM glob('/etc/*')", "disabled by configuration"),
        ("INSTALL httpfs", "disabled by configuration"),
        ("LOAD httpfs", "disabled through configuration"),
        ("SET enable_external_access = true", "configuration has been locked"),
        ("RESET enable_external_access", "configuration has been locked"),
        ("SET memory_limit = '100GB'", "configuration has been locked"),
        ("EXPORT DATABASE '{tmp}/dump'", "disabled by configuration"),
        ("ATTACH ':memory:' AS scratch", "read-only"),
        ("DELETE FROM billing.batches", "read-only"),
    ],
)
def test_statements_that_reach_past_the_snapshot_are_refused(published, capsys, tmp_path, sql, refusal):
    _, _, out, _ = published
    code, printed, err = _ask(capsys, out, sql.format(tmp=tmp_path))
    assert code == 2 and refusal in err, err
    assert printed == "" and list(tmp_path.iterdir()) == [], "nothing written"


def test_analysts_never_see_hr_cost_rates_but_finance_reads_them_through_the_restricted_snapshot(published, capsys):
    _landing, wh, out, m = published
    code, _, err = _ask(capsys, out, "SELECT labor_cost FROM marts.project_margin")
    assert code == 2 and "project_margin does not exist" in err
    code, printed, _ = _ask(
        capsys,
        out,
        "SELECT count(*) AS n FROM information_schema.columns WHERE column_name ILIKE '%cost%rate%' "
        "OR column_name IN ('labor_cost', 'margin', 'margin_pct')",
    )
    assert code == 0 and printed.splitlines() == ["n", "0"], "no column computed from cost rates in the snapshot"
    # the restricted snapshot holds the mart, row for row as the warehouse has it on the date
    restricted = duckdb.connect(str(out / "published" / "restricted.duckdb"), read_only=True)
    try:
        rows = restricted.execute("SELECT count(*), sum(labor_cost) FROM marts.project_margin").fetchone()
    finally:
        restricted.close()
    expected = query(
        wh, "SELECT count(*), sum(labor_cost) FROM marts.project_margin WHERE as_of_date = ?", [m["as_of"]]
    )
    assert rows == expected[0] and rows[0] > 0
    # the analyst's ordinary reading still works
    code, printed, _ = _ask(capsys, out, "SELECT count(*) AS n FROM marts.realization_monthly")
    assert code == 0 and int(printed.splitlines()[1]) > 0
