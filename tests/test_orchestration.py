"""Jobs, schedules, sensors, failure alerts and backfills, checked by name on the real Definitions."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.definitions import defs
from dagster_project.schedules import hourly_sync_schedule, nightly_sync_schedule
from dagster_project.sensors import file_drop_sensor, run_failure_alert, staffing_threshold_sensor
from estate import EstateConfig, generate_estate
from resources import LandingFolder, Warehouse
from resources.settings import PssyncSettings
from tests.helpers import all_assets, materialize_as_of


def test_definitions_have_the_jobs_schedules_and_sensors():
    repo = defs.get_repository_def()
    assert {
        "nightly_sync",
        "entity_settle",
        "hourly_sync",
        "file_drop_sync",
        "staffing_refresh",
        "full_pipeline",
        "firm_view",
    } <= set(repo.job_names)
    nightly, hourly = defs.get_schedule_def("nightly_sync_schedule"), defs.get_schedule_def("hourly_sync_schedule")
    assert (nightly.cron_schedule, nightly.execution_timezone, nightly.job_name) == ("0 2 * * *", "UTC", "nightly_sync")
    assert (hourly.cron_schedule, hourly.execution_timezone, hourly.job_name) == ("15 * * * *", "UTC", "hourly_sync")
    assert {s.name for s in repo.sensor_defs} == {
        "file_drop_sensor",
        "staffing_threshold_sensor",
        "run_failure_alert",
        "writer_pools_sensor",
        "entity_settle_sensor",
        "firm_view_sensor",
    }
    # reconciliation and billing of time are partitioned by (date, legal entity): the nightly settles the date-wide
    # tables, entity_settle each entity, firm_view what reads them all
    nightly_keys = {k.to_user_string() for k in defs.resolve_job_def("nightly_sync").asset_layer.executable_asset_keys}
    entity_keys = {k.to_user_string() for k in defs.resolve_job_def("entity_settle").asset_layer.executable_asset_keys}
    assert entity_keys == {
        "recon/time_to_bill",
        "billing/batch_lines",
        "billing/batches",
        "billing/batch_files",
        "marts/realization_monthly",
        "marts/project_margin",
        "marts/unbilled_wip",
    }
    firm_keys = {k.to_user_string() for k in defs.resolve_job_def("firm_view").asset_layer.executable_asset_keys}
    assert {"billing/erp_publication", "marts/published_snapshot", "workbench/business_events"} <= firm_keys
    assert {"marts/backlog", "workbench/exception_states"} <= firm_keys
    assert not nightly_keys & (entity_keys | firm_keys)
    assert {"recon/billing_holds", "recon/billing_line_exceptions", "recon/contractor_hours"} <= nightly_keys
    # the hourly chain: its date run, each entity's reconciliation, then its part of the firm view; no new billing
    from dagster_project.runner import stages_of

    hourly = stages_of(defs.resolve_asset_graph(), "hourly_sync", None)
    assert [(job, keys and [k.to_user_string() for k in keys]) for job, keys in hourly] == [
        ("hourly_sync", None),
        ("entity_settle", ["recon/time_to_bill"]),
        (
            "firm_view",
            [
                "billing/erp_publication",
                "recon/time_to_bill_exceptions",
                "workbench/business_events",
                "workbench/exception_states",
            ],
        ),
    ]
    assert [job for job, keys in stages_of(defs.resolve_asset_graph(), "nightly_sync", None) if keys is None] == [
        "nightly_sync",
        "entity_settle",
        "firm_view",
    ]
    assert defs.get_sensor_def("firm_view_sensor").job_name == "firm_view"
    groups = {a.group_names_by_key[k] for a in defs.resolve_asset_graph().assets_defs for k in a.keys}
    assert groups >= {"extract", "canonical", "recon", "billing"}


def test_schedule_ticks_target_the_expected_partitions():
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 10, 1, 2, 0, tzinfo=UTC))
    req = nightly_sync_schedule(ctx)
    assert (req.partition_key, req.run_key) == ("2026-09-30", "nightly-2026-09-30")
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 10, 1, 13, 15, tzinfo=UTC))
    req = hourly_sync_schedule(ctx)
    assert (req.partition_key, req.run_key) == ("2026-10-01", "hourly-20261001T13")


def test_file_drop_sensor_requests_one_run_per_new_file_set(tmp_path):
    (tmp_path / "hr").mkdir()
    (tmp_path / "erp").mkdir()
    (tmp_path / "hr" / "workers_2026-09-01.json").write_text("{}")
    landing = LandingFolder(path=str(tmp_path))
    first = file_drop_sensor(dg.build_sensor_context(resources={"landing": landing}))
    ctx = dg.build_sensor_context(resources={"landing": landing})
    req = file_drop_sensor(ctx)
    assert isinstance(req, dg.RunRequest) and json.loads(ctx.cursor) == ["hr/workers_2026-09-01.json"]
    assert isinstance(first, dg.RunRequest) and first.run_key == req.run_key, "same files, same run key"
    again = file_drop_sensor(dg.build_sensor_context(cursor=ctx.cursor, resources={"landing": landing}))
    assert isinstance(again, dg.SkipReason)
    (tmp_path / "erp" / "invoices_2026-09-02.csv").write_text("x")
    ctx2 = dg.build_sensor_context(cursor=ctx.cursor, resources={"landing": landing})
    req2 = file_drop_sensor(ctx2)
    assert isinstance(req2, dg.RunRequest) and req2.run_key != req.run_key
    assert len(json.loads(ctx2.cursor)) == 2


def _crm_folder(root: Path, name: str, probs: dict[str, int]) -> None:
    folder = root / "crm" / name
    folder.mkdir(parents=True)
    recs = [{"Id": i, "Probability": p, "IsClosed": False, "IsDeleted": False} for i, p in probs.items()]
    (folder / "Opportunity-00001.json").write_text(json.dumps({"totalSize": len(recs), "done": True, "records": recs}))


def test_staffing_sensor_fires_when_a_deal_crosses_the_threshold(tmp_path, monkeypatch):
    landing = LandingFolder(path=str(tmp_path))
    settings = PssyncSettings(staffing_threshold=50)
    _crm_folder(tmp_path, "20260901T010000Z", {"A": 25, "B": 75})
    ctx = dg.build_sensor_context(resources={"landing": landing, "settings": settings})
    req = staffing_threshold_sensor(ctx)
    assert isinstance(req, dg.RunRequest) and req.tags["pssync/crossed"] == "B"
    _crm_folder(tmp_path, "20261001T010000Z", {"B": 80})
    ctx2 = dg.build_sensor_context(cursor=ctx.cursor, resources={"landing": landing, "settings": settings})
    assert isinstance(staffing_threshold_sensor(ctx2), dg.SkipReason), "B was already above"
    _crm_folder(tmp_path, "20261101T010000Z", {"A": 50})
    ctx3 = dg.build_sensor_context(cursor=ctx2.cursor, resources={"landing": landing, "settings": settings})
    req3 = staffing_threshold_sensor(ctx3)
    assert req3.run_key == "staffing-20261101T010000Z" and req3.tags["pssync/crossed"] == "A"
    assert json.loads(ctx3.cursor) == {"folder": "20261101T010000Z", "above": ["A", "B"]}


def test_failed_runs_are_recorded_in_ops_alerts_and_posted_to_the_webhook(tmp_path, monkeypatch):
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    settings = PssyncSettings(
        alert_webhook_url=f"http://127.0.0.1:{server.server_port}/alerts", output_dir=str(tmp_path / "out")
    )

    @dg.asset
    def broken():
        raise ValueError("source went away")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([broken], instance=instance, raise_on_error=False)
    failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    wh = Warehouse(path=str(tmp_path / "wh.duckdb"))
    with wh.connect():
        pass
    with dg.build_run_status_sensor_context(  # entered: the warehouse resource has a run lifecycle
        sensor_name="run_failure_alert",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"warehouse": wh, "settings": settings},
    ) as ctx:
        run_failure_alert(ctx.for_run_failure())
    thread.join(5)
    server.server_close()
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    rows = con.execute("SELECT run_id, job_name FROM ops.alerts").fetchall()
    con.close()
    assert rows == [(result.run_id, result.dagster_run.job_name)]
    assert received and received[0]["run_id"] == result.run_id


@pytest.mark.long
def test_a_two_week_backfill_reproduces_the_batches_of_the_single_runs(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    m = generate_estate(EstateConfig(out=landing, employees=40, months=2, seed=5, progress=False))
    end = date.fromisoformat(m["as_of"])
    days = [(end - timedelta(days=13 - i)).isoformat() for i in range(14)]
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    everything = all_assets()
    partitioned = [a for a in everything if a.partitions_def is not None]
    # single runs: the first date runs everything, the following dates their partitions
    assert materialize_as_of(landing, wh, days[0], assets=everything, outputs=out).success
    for d in days[1:]:
        assert materialize_as_of(landing, wh, d, assets=partitioned, outputs=out).success
    files = {p.name: p.read_bytes() for p in (out / "billing_batches").glob("*.json")}
    con = duckdb.connect(str(wh), read_only=True)
    ledger = con.execute("SELECT idempotency_key, batch_id FROM billing.ledger ORDER BY 1").fetchall()
    recon = con.execute(
        "SELECT as_of_date, time_entry_id, recon_status, reason FROM recon.time_to_bill ORDER BY 1, 2"
    ).fetchall()
    con.close()
    assert len({d for d, *_ in recon}) == 14 and files
    # the backfill: every partition again, in the queued one-run-at-a-time order of the instance
    out2 = tmp_path / "out2"
    for d in days:
        assert materialize_as_of(landing, wh, d, assets=partitioned, outputs=out2).success
    assert {p.name: p.read_bytes() for p in (out2 / "billing_batches").glob("*.json")} == files
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT idempotency_key, batch_id FROM billing.ledger ORDER BY 1").fetchall() == ledger
    assert (
        con.execute(
            "SELECT as_of_date, time_entry_id, recon_status, reason FROM recon.time_to_bill ORDER BY 1, 2"
        ).fetchall()
        == recon
    )
    con.close()


def test_two_recorded_runs_in_one_process_each_use_their_own_settings(small_estate, tmp_path, monkeypatch):
    """Runs recorded in an instance are reconstructed from the code location; Dagster caches the last one per
    process, so a second run with other settings once wrote into the first run's warehouse."""
    import shutil

    from dagster_project.runner import run_pipeline
    from tests.conftest import manifest

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(Path(__file__).parent.parent / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    as_of = date.fromisoformat(manifest(small_estate)["as_of"])
    monkeypatch.setenv("PSSYNC_LANDING_DIR", str(small_estate))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for name in ("first", "second"):
            monkeypatch.setenv("PSSYNC_WAREHOUSE", str(tmp_path / name / "wh.duckdb"))
            assert run_pipeline(as_of, selection="raw/hr_workers", on=instance).success
    for name in ("first", "second"):
        con = duckdb.connect(str(tmp_path / name / "wh.duckdb"), read_only=True)
        assert con.execute("SELECT count(*) FROM raw.hr_workers").fetchone()[0] > 0, f"the {name} run wrote elsewhere"
        con.close()


def test_a_run_whose_steps_never_report_back_fails_in_one_line(tmp_path):
    """Steps sent to Celery workers that died or cannot reach the instance never report back; the run must not read
    as a success with nothing billed."""
    from types import SimpleNamespace

    from dagster_project.verdict import verdict

    @dg.asset
    def extracted():
        return 1

    @dg.asset(deps=[extracted])
    def reconciled():
        return 2

    events = dg.materialize([extracted, reconciled]).all_events
    lost = [e for e in events if not (e.step_key == "reconciled" and e.event_type_value == "STEP_SUCCESS")]
    line, code = verdict(SimpleNamespace(success=True, all_events=lost), date(2026, 9, 30), str(tmp_path / "w"))
    assert (line, code) == (
        "pssync run 2026-09-30: FAILED — the run did not finish: reconciled (see the run in the Dagster UI)",
        1,
    )
    silent = [e for e in events if e.event_type_value not in ("STEP_START", "STEP_SUCCESS")]
    line, code = verdict(SimpleNamespace(success=True, all_events=silent), date(2026, 9, 30), str(tmp_path / "w"))
    assert code == 1 and line.endswith(
        "the run did not finish: no step reported success (see the run in the Dagster UI)"
    )
    assert not (tmp_path / "w").exists(), "a run that did not finish is not summarized from the warehouse"

    # the run ended outside any step (the executor's own error, as Dagster's storage raised it beside a backfill):
    # the line says why
    import sys

    from dagster._utils.error import serializable_error_info_from_exc_info

    try:
        raise RuntimeError('duplicate key value violates unique constraint "concurrency_limits_concurrency_key_key"')
    except RuntimeError:
        error = serializable_error_info_from_exc_info(sys.exc_info())
    ended = [
        *silent,
        SimpleNamespace(
            event_type_value="RUN_FAILURE", step_key=None, event_specific_data=SimpleNamespace(error=error)
        ),
    ]
    line, code = verdict(SimpleNamespace(success=False, all_events=ended), date(2026, 9, 30), str(tmp_path / "w"))
    assert (line, code) == (
        "pssync run 2026-09-30: FAILED — the run did not finish: no step reported success: RuntimeError: duplicate key "
        'value violates unique constraint "concurrency_limits_concurrency_key_key" (see the run in the Dagster UI)',
        1,
    )
