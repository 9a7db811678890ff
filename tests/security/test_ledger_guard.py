"""The billing ledger guards itself. Before the control, an emptied billing.ledger made the next run bill every key a
second time (390,249.42 on a 60 x 4 estate), verdict OK, exit 0."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from dagster_project.cli import main
from tests.helpers import query


def test_a_run_refuses_to_bill_after_the_ledger_lost_keys_and_names_it_in_one_line(own_copy, capsys):
    landing, wh, out, m = own_copy
    d1 = (date.fromisoformat(m["as_of"]) + timedelta(days=1)).isoformat()
    billed_keys = query(wh, "SELECT count(*) FROM billing.ledger")[0][0]
    assert billed_keys > 100
    con = duckdb.connect(str(wh))
    con.execute("DELETE FROM billing.ledger")  # what someone with the file (or the old query tool) could do
    con.close()

    code = main(["run", "--as-of", d1, "--landing-dir", str(landing), "--warehouse", str(wh), "--output-dir", str(out)])
    captured = capsys.readouterr()
    verdict = (captured.out + captured.err).strip().splitlines()[-1]
    assert code == 1
    assert "LedgerTampered" in verdict and f"lost {billed_keys:,} key(s)" in verdict and "restore the ledger" in verdict
    assert query(wh, "SELECT count(*) FROM billing.batch_lines WHERE as_of_date = ?", [d1]) == [(0,)], "nothing billed"
    assert query(wh, "SELECT count(*) FROM billing.ledger") == [(0,)]


def test_the_guard_holds_when_the_warehouse_copy_of_the_lines_went_too(own_copy, capsys):
    """Ledger and batch lines both deleted: the workflow store's register of emitted batches still knows them."""
    landing, wh, out, m = own_copy
    d1 = (date.fromisoformat(m["as_of"]) + timedelta(days=1)).isoformat()
    con = duckdb.connect(str(wh))
    con.execute("DELETE FROM billing.ledger")
    con.execute("DELETE FROM billing.batch_lines")
    con.close()
    code = main(["run", "--as-of", d1, "--landing-dir", str(landing), "--warehouse", str(wh), "--output-dir", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and "LedgerTampered" in captured.out + captured.err
    assert query(wh, "SELECT count(*) FROM billing.batch_lines") == [(0,)]


def test_an_intact_ledger_bills_the_next_date(own_copy, capsys):
    """The guard is no brake on a healthy warehouse: the next date runs and bills only new keys."""
    landing, wh, out, m = own_copy
    d1 = (date.fromisoformat(m["as_of"]) + timedelta(days=1)).isoformat()
    before = query(wh, "SELECT count(*) FROM billing.ledger")[0][0]
    code = main(["run", "--as-of", d1, "--landing-dir", str(landing), "--warehouse", str(wh), "--output-dir", str(out)])
    assert code in (0, 3), capsys.readouterr().out
    assert query(wh, "SELECT count(*) FROM billing.ledger")[0][0] >= before
    twice = query(
        wh, "SELECT count(*) FROM (SELECT idempotency_key FROM billing.batch_lines GROUP BY 1 HAVING count(*) > 1)"
    )
    assert twice == [(0,)]
