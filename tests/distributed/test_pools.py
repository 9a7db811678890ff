"""The writer pools of the production instance (Dagster's storage in PostgreSQL): `pssync run` creates every pool of
its job before the run starts, because Dagster creating a pool that another run has just created fails the run."""

from __future__ import annotations

import shutil
from datetime import UTC

import dagster as dg
import pytest

from dagster_project.pools import create_pools
from tests.distributed.conftest import ROOT, Databases


@pytest.fixture
def instance(tmp_path, monkeypatch):
    dbs = Databases()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "production" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("PSSYNC_DAGSTER_PG_URL", dbs.sqlalchemy(dbs.create(), "psycopg2"))
    inst = dg.DagsterInstance.from_config(str(home))
    try:
        yield inst
    finally:
        inst.dispose()
        dbs.drop()


def _hourly_job():
    from dagster_project.definitions import build_definitions

    return build_definitions().resolve_job_def("hourly_sync")


def test_every_pool_of_a_job_exists_with_one_slot_before_its_run_and_a_race_is_tolerated(instance, monkeypatch):
    storage = instance.event_log_storage
    job = _hourly_job()
    assert storage.get_pool_limits() == []

    create_pools(instance, job)
    limits = {p.name: p.limit for p in storage.get_pool_limits()}
    assert len(limits) == 12 and set(limits.values()) == {1}
    assert "pssync/recon/billing_holds" in limits and "pssync/canonical/time_entry" in limits

    # what a second run creating the same pool at the same moment meets inside Dagster (its own error, on PostgreSQL)
    with pytest.raises(Exception, match=r"concurrency_limits_concurrency_key_key|InFailedSqlTransaction"):
        storage.initialize_concurrency_limit_to_default("pssync/recon/billing_holds")

    # the same race seen from pssync: its read says the pool is missing, another run has made it since; no error
    real = storage.get_pool_limits
    stale = [[]]  # the first read, taken before the other run committed its pools
    monkeypatch.setattr(storage, "get_pool_limits", lambda: stale.pop() if stale else real())
    create_pools(instance, job)
    assert {p.name: p.limit for p in real()} == limits


def test_a_schedule_tick_creates_the_pools_of_its_job_before_its_run(instance):
    from datetime import datetime

    from dagster_project.definitions import build_definitions
    from dagster_project.schedules import hourly_sync_schedule

    repo = build_definitions().get_repository_def()
    tick = datetime(2026, 10, 1, 13, 15, tzinfo=UTC)
    with dg.build_schedule_context(instance=instance, repository_def=repo, scheduled_execution_time=tick) as ctx:
        request = hourly_sync_schedule(ctx)
    assert request.partition_key == "2026-10-01"
    pools = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}
    assert len(pools) == 12 and set(pools.values()) == {1} and "pssync/recon/billing_holds" in pools


def test_the_pools_sensor_creates_every_pool_a_run_from_the_ui_would_claim(instance):
    """Runs launched from the UI go through neither `pssync run` nor a schedule: the daemon's pools sensor, running
    by default every 30 s, has created their pools by then."""
    from dagster_project.definitions import build_definitions
    from dagster_project.sensors import writer_pools_sensor

    repo = build_definitions().get_repository_def()
    assert writer_pools_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.build_sensor_context(instance=instance, repository_def=repo) as ctx:
        first = writer_pools_sensor(ctx)
    pools = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}
    # every pool a step of the nightly and the firm view after its billing claims (every asset of the date), with one
    # slot each; an entity's steps claim none (they write only their entity's parts or rows)
    date = [n for job in ("nightly_sync", "firm_view") for n in repo.get_job(job).graph.nodes]
    assert set(pools) == {n.definition.pool for n in date if n.definition.pool}
    assert len(pools) == 58 and set(pools.values()) == {1}
    assert "pssync/billing/erp_publication" in pools and "pssync/marts/published_snapshot" in pools
    assert not {n.definition.pool for n in repo.get_job("entity_settle").graph.nodes} - {None}
    assert first.skip_message.startswith(f"created {len(pools)} pool(s): ")
    with dg.build_sensor_context(instance=instance, repository_def=repo) as ctx:
        assert writer_pools_sensor(ctx).skip_message == "every pool exists"


def test_pssync_pools_creates_them_at_setup_and_names_a_wrong_instance(tmp_path):
    """`pssync pools`, run once when the instance is set up, leaves no window before the sensor's first tick in which
    a run launched from the UI could meet the race; a second call creates nothing; an instance that cannot be
    opened is one line and exit 2."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    dbs = Databases()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "production" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSSYNC_")}
    env.update(DAGSTER_HOME=str(home), PSSYNC_DAGSTER_PG_URL=dbs.sqlalchemy(dbs.create(), "psycopg2"))
    pssync = str(Path(sys.executable).parent / "pssync")

    def pools(**overrides):
        return subprocess.run([pssync, "pools"], env={**env, **overrides}, capture_output=True, text=True, timeout=300)

    try:
        first, again = pools(), pools()
        assert first.returncode == 0 and first.stdout.startswith("created 58 pool(s): "), first.stderr[-2000:]
        assert "pssync/recon/billing_holds" in first.stdout
        assert again.returncode == 0 and again.stdout.strip() == "every pool exists"

        wrong = pools(PSSYNC_DAGSTER_PG_URL=dbs.sqlalchemy("pssync_no_such_database", "psycopg2"))
        assert wrong.returncode == 2 and wrong.stdout == ""
        assert wrong.stderr.startswith(f"pssync pools: DAGSTER_HOME={home}: the Dagster instance cannot be opened: ")
        assert 'database "pssync_no_such_database" does not exist' in wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1 and "Traceback" not in wrong.stderr

        nobody = pools(PSSYNC_DAGSTER_PG_URL="postgresql+psycopg2://dagster@127.0.0.1:1/dagster")  # no server there
        assert nobody.returncode == 2 and nobody.stdout == ""
        assert nobody.stderr.strip() == (
            f"pssync pools: DAGSTER_HOME={home}: the Dagster instance cannot be opened: "
            'connection to server at "127.0.0.1", port 1 failed: Connection refused'
        )
    finally:
        dbs.drop()
