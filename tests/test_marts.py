"""Marts on hand-built estates with known numbers, tie-outs on a generated estate, quality suites,
and analysts reading the published snapshot while a sync runs."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from assets.versions import entity_table
from checks.gx_suites import validate_mart
from resources.quality import DataQuality
from tests.helpers import all_assets, materialize_as_of
from tests.helpers import query as q
from tests.scenario import Scenario, con

AS_OF = "2026-03-31"


def test_utilization_of_a_mid_week_hire_in_a_holiday_week_with_half_a_day_off(scenario, tmp_path):
    s = scenario
    s.workers.append(Scenario.worker_row(2, hire="2026-03-04"))  # hired on Wednesday
    s.resources.append(dict(resource_id=2, hr_employee_id="E000002", role="Consultant", region="NA"))
    s.holidays.append(("US", "2026-03-05", "Founders Day"))  # Thursday is a holiday
    s.time_off.append(("E000002", "2026-03-06", "4", "Vacation"))  # half of Friday off
    s.entry(1, "2026-03-04", resource=2)  # 8 h billable
    s.entry(2, "2026-03-06", resource=2, minutes=240, billable=False)  # 4 h non-billable
    s.write()
    wh = tmp_path / "wh.duckdb"
    assert materialize_as_of(s.root, wh, AS_OF, assets=all_assets(marts=True)).success
    row = q(
        wh,
        """SELECT capacity_hours, time_off_hours, available_hours, billable_hours, non_billable_hours,
                          total_hours, round(billable_utilization, 4), total_utilization, legal_entity, job_profile
                   FROM marts.utilization_weekly WHERE employee_id = 'E000002' AND week_start = DATE '2026-03-02'""",
    )
    assert row == [
        (Decimal("16.00"), Decimal("4.00"), Decimal("12.00"), 8.0, 4.0, 12.0, 0.6667, 1.0, "US01", "Consultant")
    ]
    # the full-time colleague: 5 working days minus the holiday, nothing logged
    assert q(
        wh,
        """SELECT capacity_hours, billable_utilization FROM marts.utilization_weekly
                    WHERE employee_id = 'E000001' AND week_start = DATE '2026-03-02'""",
    ) == [(Decimal("32.00"), 0.0)]


def test_utilization_weeks_of_a_mid_week_change_and_of_hours_after_leaving(scenario, tmp_path):
    """A week takes the attributes of its first working day and the capacity of each day's version; a week with
    hours and no capacity (hours logged after the termination date) still has its row, with no utilization."""
    s = scenario
    s.workers.append(Scenario.worker_row(2, termination="2026-03-06"))  # leaves on Friday
    s.resources.append(dict(resource_id=2, hr_employee_id="E000002", role="Consultant", region="NA"))
    s.entry(1, "2026-03-10", resource=2)  # 8 h on the Tuesday after leaving
    s.write()
    # from Wednesday 2026-03-04, E000001 works half time as a Manager
    changed = [
        dict(w, Job_Profile="Manager", Scheduled_Weekly_Hours="20") if w["Employee_ID"] == "E000001" else w
        for w in s.workers
    ]
    (s.root / "hr" / "workers_2026-03-04.json").write_text(json.dumps({"Report_Entry": changed}))
    wh = tmp_path / "wh.duckdb"
    assert materialize_as_of(s.root, wh, AS_OF, assets=all_assets(marts=True)).success
    weeks = q(
        wh,
        """SELECT employee_id, week_start, capacity_hours, available_hours, total_hours, total_utilization,
                  job_profile, legal_entity
           FROM marts.utilization_weekly WHERE week_start IN (DATE '2026-03-02', DATE '2026-03-09')
           ORDER BY 1, 2""",
    )
    assert weeks == [
        ("E000001", date(2026, 3, 2), Decimal("28.00"), Decimal("28.00"), 0.0, 0.0, "Consultant", "US01"),  # 2x8 + 3x4
        ("E000001", date(2026, 3, 9), Decimal("20.00"), Decimal("20.00"), 0.0, 0.0, "Manager", "US01"),
        ("E000002", date(2026, 3, 2), Decimal("40.00"), Decimal("40.00"), 0.0, 0.0, "Consultant", "US01"),
        ("E000002", date(2026, 3, 9), Decimal("0.00"), Decimal("0.00"), 8.0, None, "Consultant", "US01"),
    ]


def test_realization_with_a_write_down_and_a_milestone_in_a_month(scenario, tmp_path):
    s = scenario
    s.contracts.append(Scenario.contract_row(2, billing="Fixed Fee"))
    s.projects.append(Scenario.project_row(2, contract=con(2), billing_type="fixed_fee"))
    s.entry(1, "2026-03-02")  # standard 8 x 100.00 = 800.00
    s.entry(2, "2026-03-03")  # standard 800.00, unbilled
    s.invoice(
        500,
        "2026-03-10",
        [
            ("PS-TM-HOURS", 1, "8.00", "90.0000"),  # billed 720.00
            ("PS-FF-MILESTONE", None, "1.00", "5000.0000", "P-2"),
        ],
    )
    s.write()
    wh = tmp_path / "wh.duckdb"
    assert materialize_as_of(s.root, wh, AS_OF, assets=all_assets(marts=True)).success
    rows = {
        r[0]: r[1:]
        for r in q(
            wh,
            """SELECT project_code, billable_hours, standard_value, billed_value,
                                                 round(realization, 4), write_down, billed_value_reporting
                                          FROM marts.realization_monthly WHERE month = DATE '2026-03-01'""",
        )
    }
    assert rows["P-1"] == (16.0, Decimal("1600.00"), Decimal("720.00"), 0.45, Decimal("880.00"), Decimal("720.00"))
    assert rows["P-2"] == (0.0, Decimal("0.00"), Decimal("5000.00"), None, Decimal("-5000.00"), Decimal("5000.00"))
    margin = q(wh, "SELECT revenue, labor_cost, margin FROM marts.project_margin WHERE project_code = 'P-1'")
    assert margin == [(Decimal("720.00"), Decimal("960.00"), Decimal("-240.00"))]  # 16 h x 60.00 cost
    wip = q(wh, "SELECT value_0_30, unbilled_value, leakage_total FROM marts.unbilled_wip WHERE project_code = 'P-1'")
    assert wip == [(Decimal("800.00"), Decimal("800.00"), Decimal("0.00"))]
    cycle = q(wh, "SELECT earliest_work_date, days_work_to_invoice, days_to_paid FROM marts.invoice_cycle")
    assert cycle == [(date(2026, 3, 2), 8, None)]


@pytest.fixture
def generated(small_estate, tmp_path):
    from tests.conftest import manifest

    m = manifest(small_estate)
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    assert materialize_as_of(small_estate, wh, m["as_of"], outputs=out, assets=all_assets(marts=True)).success
    return m, wh, out


def test_unbilled_work_ages_into_every_bucket_like_a_real_firms(generated):
    """The estate's invoice runs each leave a few projects' approved time out (manifest skipped_invoice_runs), so
    WIP is not all from the last month: every age bucket holds value, and the old buckets are that leakage."""
    m, wh, _out = generated
    buckets = q(
        wh,
        """SELECT sum(value_0_30), sum(value_31_60), sum(value_61_90), sum(value_90_plus) FROM marts.unbilled_wip
           WHERE as_of_date = ?""",
        [m["as_of"]],
    )[0]
    assert all(v > 0 for v in buckets), buckets
    runs = {r["invoice_run"] for r in m["skipped_invoice_runs"]}
    assert len(runs) == 3, "every invoice run of a four-month estate skipped a project"  # Jul, Aug, Sep 5th
    skipped = {r["project_code"] for r in m["skipped_invoice_runs"]}
    aged = q(
        wh,
        """SELECT DISTINCT project_code FROM recon.time_to_bill
           WHERE as_of_date = ? AND billed_line_count = 0 AND age_days > 30""",
        [m["as_of"]],
    )
    assert skipped <= {p for (p,) in aged}, "each skipped project's time is still unbilled, and older than 30 days"


def test_marts_tie_out_to_recon_and_billing(generated):
    m, wh, _out = generated
    d = m["as_of"]
    wip = q(wh, "SELECT sum(unbilled_value) FROM marts.unbilled_wip WHERE as_of_date = ?", [d])[0][0]
    recon = q(
        wh,
        """SELECT sum(coalesce(expected_amount, round(quantity * standard_rate, 2), 0)) FROM recon.time_to_bill
                     WHERE as_of_date = ? AND recon_status IN ('UNBILLED', 'BATCHED', 'INELIGIBLE', 'OVER_CAP')""",
        [d],
    )[0][0]
    assert wip == recon
    billed = q(wh, "SELECT sum(billed_value) FROM marts.realization_monthly WHERE as_of_date = ?", [d])[0][0]
    from_recon = q(
        wh,
        """SELECT sum(coalesce(billed_amount, 0)) FROM recon.time_to_bill WHERE as_of_date = ?
                          AND (entry_status = 'approved' OR billed_line_count > 0)""",
        [d],
    )[0][0]
    milestones = q(
        wh,
        """SELECT coalesce(sum(l.amount), 0) FROM canonical.invoice_line l JOIN canonical.invoice i
                          USING (invoice_id) WHERE i.status <> 'Voided' AND l.item = 'PS-FF-MILESTONE'""",
    )[0][0]
    assert billed == from_recon + milestones
    hours = q(wh, "SELECT sum(total_hours) FROM marts.utilization_weekly WHERE as_of_date = ?", [d])[0][0]
    minutes = q(
        wh,
        """SELECT sum(t.time_in_minutes) FROM canonical.time_entry t JOIN canonical.xwalk_resource_employee x
                       USING (resource_id) WHERE x.match_status = 'MATCHED' AND t.live_approved""",
    )[0][0]
    weeks = q(wh, "SELECT count(*) FROM marts.utilization_weekly WHERE as_of_date = ?", [d])[0][0]
    # decimal hours: each week's sum is exact to the microhour, so the total is within a microhour per week
    assert abs(hours - Decimal(minutes) / 60) <= Decimal("0.000001") * weeks
    assert (
        q(wh, "SELECT count(*) FROM marts.utilization_weekly GROUP BY employee_id, week_start HAVING count(*) > 1")
        == []
    )
    batches = q(wh, "SELECT sum(net_amount) FROM billing.batches WHERE as_of_date = ?", [d])[0][0]
    assert batches == q(wh, "SELECT sum(amount) FROM billing.batch_lines WHERE as_of_date = ?", [d])[0][0]


def test_quality_suites_fail_on_a_corrupted_mart_and_write_data_docs(generated, tmp_path):
    m, wh, out = generated
    d = date.fromisoformat(m["as_of"])
    quality = DataQuality(output_dir=str(out))
    c = duckdb.connect(str(wh))
    try:
        assert validate_mart(c, quality, "marts", "utilization_weekly", d).success
        # the mart is kept as versions (assets/versions.py): corrupt what its view reads
        c.execute("UPDATE marts.utilization_weekly__versions SET billable_utilization = billable_utilization * 10 + 3")
        bad = validate_mart(c, quality, "marts", "utilization_weekly", d)
        assert not bad.success and "expect_column_values_to_be_between(billable_utilization)" in bad.failed
        # split by legal entity: one entity's part holds a project twice, which the firm view and that entity's
        # check both see; another entity's check does not
        entity, other = [
            r[0] for r in c.execute("SELECT DISTINCT legal_entity FROM marts.unbilled_wip ORDER BY 1").fetchall()
        ][:2]
        part = entity_table("marts.unbilled_wip", entity)
        c.execute(f"INSERT INTO {part} SELECT * FROM {part} LIMIT 1")
        assert validate_mart(c, quality, "marts", "unbilled_wip", d, [other]).success
        for entities in ([entity], None):
            wip = validate_mart(c, quality, "marts", "unbilled_wip", d, entities)
            assert not wip.success and any("unique" in f for f in wip.failed) and any("sum" in f for f in wip.failed)
    finally:
        c.close()
    gx_index = out / "data_quality" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert gx_index.exists() and "marts_utilization_weekly" in gx_index.read_text()
    # our index works offline: no script or stylesheet from anywhere; in a real browser it lists the suites with
    # the as-of date each checked and the failed expectations
    from tests.browser import dom

    index = out / "data_quality" / "index.html"
    assert not re.search(r"<(script|link)[^>]+(src|href)=.(https?:)?//", index.read_text())
    text = dom(index.as_uri())
    rows = re.findall(r"<tr class=\"(\w+)\"><td>(\w+)</td><td>([\d-]+)</td>", text)
    assert ("failed", "marts_utilization_weekly", m["as_of"]) in rows
    assert ("failed", "marts_unbilled_wip", m["as_of"]) in rows
    assert "expect_column_values_to_be_between(billable_utilization)" in text


def test_analysts_keep_reading_the_published_snapshot_while_a_sync_runs(generated, small_estate):
    m, wh, out = generated
    snapshot = out / "published" / "pssync.duckdb"
    reader = duckdb.connect(str(snapshot), read_only=True)
    expected = reader.execute("SELECT count(*), sum(total_hours) FROM marts.utilization_weekly").fetchall()
    done = threading.Event()
    errors: list[BaseException] = []

    def sync():
        try:
            assert materialize_as_of(small_estate, wh, m["as_of"], outputs=out, assets=all_assets(marts=True)).success
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=sync)
    worker.start()
    answers = 0
    while not done.is_set():
        assert reader.execute("SELECT count(*), sum(total_hours) FROM marts.utilization_weekly").fetchall() == expected
        fresh = duckdb.connect(str(snapshot), read_only=True)  # a new analyst session mid-sync also works
        assert fresh.execute("SELECT count(*) FROM marts.utilization_weekly").fetchall()[0][0] == expected[0][0]
        fresh.close()
        answers += 1
        time.sleep(0.05)
    worker.join()
    reader.close()
    assert not errors and answers > 5
    again = duckdb.connect(str(snapshot), read_only=True)
    assert again.execute("SELECT as_of_date FROM ops.published").fetchall() == [(date.fromisoformat(m["as_of"]),)]
    again.close()


def test_the_marts_per_project_are_split_by_legal_entity_and_the_firm_view_loses_nothing(generated):
    """Realization, margin and unbilled WIP are written per legal entity (issue #18): each entity's part holds only
    its projects, the entity's sums tie out to its own reconciliation, and the firm-wide view holds exactly what one
    query over every entity gives, row for row."""
    from assets.versions import entity_parts
    from resources.settings import PssyncSettings
    from resources.warehouse import bound_params, sql_text

    m, wh, _out = generated
    d = date.fromisoformat(m["as_of"])
    c = duckdb.connect(str(wh), read_only=True)
    try:
        entities = entity_parts(c, "recon.time_to_bill")
        assert len(entities) >= 3
        for name in ("realization_monthly", "project_margin", "unbilled_wip"):
            table = f"marts.{name}"
            assert entity_parts(c, table) == entities
            query = sql_text(f"marts/{name}")
            params = {"as_of": d, "reporting": PssyncSettings().reporting_currency, "legal_entities": entities}
            whole = c.execute(f"SELECT * FROM ({query}) ORDER BY ALL", bound_params(query, params)).fetchall()
            view = c.execute(f"SELECT * FROM {table} WHERE as_of_date = ? ORDER BY ALL", [d]).fetchall()
            assert view == whole and len(view) > 10, name
            for e in entities:
                owners = c.execute(f"SELECT DISTINCT legal_entity FROM {entity_table(table, e)}").fetchall()
                assert owners == [(e,)], (name, e)
        # an entity's WIP is the value of its own unbilled entries, to the cent
        for e in entities:
            [(wip,)] = c.execute(
                f"SELECT sum(unbilled_value) FROM {entity_table('marts.unbilled_wip', e)} WHERE as_of_date = ?", [d]
            ).fetchall()
            [(recon,)] = c.execute(
                """SELECT sum(wip_value(expected_amount, quantity, standard_rate)) FROM recon.time_to_bill
                   WHERE as_of_date = ? AND is_wip(recon_status) AND legal_entity = ?""",
                [d, e],
            ).fetchall()
            assert wip == recon and wip > 0, e
    finally:
        c.close()
