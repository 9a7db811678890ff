"""What the distributed tests start: PostgreSQL databases for the shared warehouse's catalog, Dagster's instance and
the workbench's store; a Redis broker (the machine's, else one started here); two Celery workers as separate
processes. Run by `make test-distributed` in the environment of pssync[shared] (DuckDB 1.5 with DuckLake)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from estate import EstateConfig, generate_estate
from tests.conftest import PG_URL, SMALL, _pg_available

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI") == "true"


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def shared_packages():
    wanted = ("duckdb_extension_ducklake", "dagster_celery", "dagster_postgres")
    absent = [m for m in wanted if not importlib.util.find_spec(m)]
    if absent:
        _missing(f"pssync[shared] is not installed here ({', '.join(absent)}): run `make test-distributed`")


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """The machine's Redis at 127.0.0.1:6379, else a redis-server started here on a free port. A database number
    of its own, so that no other Celery worker on the machine takes this session's steps."""
    db = 2 + uuid.uuid4().int % 7  # two per session: broker and results
    if _reachable("127.0.0.1", 6379):
        yield f"redis://127.0.0.1:6379/{db}", f"redis://127.0.0.1:6379/{db + 7}"
        return
    server = shutil.which("redis-server")
    if not server:
        _missing("no Redis at 127.0.0.1:6379 and no redis-server to start")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path_factory.mktemp("redis"),
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        if _reachable("127.0.0.1", port):
            break
        time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/{db}", f"redis://127.0.0.1:{port}/{db + 7}"
    proc.terminate()
    proc.wait(10)


class Databases:
    """PostgreSQL databases made for one test and dropped after it."""

    def __init__(self):
        problem = _pg_available()
        if problem:
            _missing(f"PostgreSQL at {PG_URL} is unreachable: {problem}")
        self.admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        self.url = sa.engine.make_url(PG_URL)
        self.names: list[str] = []

    def create(self) -> str:
        name = f"pssync_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return name

    def libpq(self, name: str) -> str:
        """The database as DuckDB's PostgreSQL extension names it."""
        parts = [f"dbname={name}", f"host={self.url.host or '127.0.0.1'}", f"port={self.url.port or 5432}"]
        return " ".join(parts + ([f"user={self.url.username}"] if self.url.username else []))

    def sqlalchemy(self, name: str, driver: str) -> str:
        return self.url.set(drivername=f"postgresql+{driver}", database=name).render_as_string(hide_password=False)

    def drop(self):
        with self.admin.connect() as c:
            for name in self.names:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def estate(tmp_path_factory) -> Path:
    """The small generated estate: four legal entities (US01, UK01, DE01, SG01), each billing its own batches."""
    out = tmp_path_factory.mktemp("estate") / "landing"
    generate_estate(EstateConfig(out=out, progress=False, **SMALL))
    return out


class Deployment:
    """One shared-warehouse deployment: its settings as environment variables, its Celery workers, and commands run
    as separate processes with that environment."""

    def __init__(self, root: Path, landing: Path, dbs: Databases, broker: tuple[str, str]):
        self.root = root
        home = root / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "dagster_home" / "production" / "dagster.yaml", home / "dagster.yaml")
        shutil.copytree(landing, root / "landing")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PSSYNC_") and k != "DAGSTER_HOME"}
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            PSSYNC_WAREHOUSE=f"ducklake:postgres:{dbs.libpq(dbs.create())}",
            PSSYNC_WAREHOUSE_DATA=str(root / "lake"),
            PSSYNC_OUTPUT_DIR=str(root / "output"),
            PSSYNC_WORKFLOW_URL=dbs.sqlalchemy(dbs.create(), "psycopg"),
            PSSYNC_LANDING_DIR=str(root / "landing"),
            PSSYNC_PARTITION_START="2026-01-01",
            PSSYNC_EXECUTOR="celery",
            PSSYNC_CELERY_BROKER=broker[0],
            PSSYNC_CELERY_BACKEND=broker[1],
            DAGSTER_HOME=str(home),
            PSSYNC_DAGSTER_PG_URL=dbs.sqlalchemy(dbs.create(), "psycopg2"),
        )
        self.env = env
        self.workers: dict[str, subprocess.Popen] = {}

    def start_worker(self, name: str) -> None:
        log = open(self.root / f"{name}.log", "ab")
        self.workers[name] = subprocess.Popen(
            [
                str(BIN / "dagster-celery"),
                "worker",
                "start",
                "-A",
                "dagster_celery.app",
                "-y",
                str(ROOT / "dagster_home" / "production" / "celery.yaml"),
                "-n",
                f"{name}@{uuid.uuid4().hex[:6]}",
                "--",
                "--concurrency=1",  # one step at a time per worker: two workers, two processes running steps
            ],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 90
        while b" ready." not in self.log(name):
            if time.time() > deadline or self.workers[name].poll() is not None:
                raise AssertionError(f"worker {name} did not start:\n{self.log(name).decode()[-2000:]}")
            time.sleep(0.5)

    def log(self, name: str) -> bytes:
        return (self.root / f"{name}.log").read_bytes()

    def steps_done(self, name: str) -> int:
        return self.log(name).count(b"succeeded in")

    def kill_worker(self, name: str) -> None:
        os.killpg(self.workers.pop(name).pid, signal.SIGKILL)

    def pssync(self, *args: str, **overrides: str) -> subprocess.CompletedProcess:
        env = {**self.env, **overrides}
        return subprocess.run(
            [str(BIN / "pssync"), *args], env=env, cwd=self.root, capture_output=True, text=True, timeout=900
        )

    def start(self, *args: str, **overrides: str) -> subprocess.Popen:
        env = {**self.env, **overrides}
        return subprocess.Popen(
            [str(BIN / "pssync"), *args],
            env=env,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def fail_abandoned_runs(self) -> int:
        """Mark the runs still in progress failed and free their pool slots: what the Dagster daemon's run
        monitoring does for a run whose process died (docs/deployment.md). Returns how many."""
        import dagster as dg
        from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter

        os.environ["PSSYNC_DAGSTER_PG_URL"] = self.env["PSSYNC_DAGSTER_PG_URL"]
        try:
            instance = dg.DagsterInstance.from_config(self.env["DAGSTER_HOME"])
            runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING]))
            for run in runs:
                instance.report_run_failed(run, "its process was killed")
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            instance.dispose()
            return len(runs)
        finally:
            del os.environ["PSSYNC_DAGSTER_PG_URL"]

    def stop(self) -> None:
        for proc in self.workers.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, estate, redis_url):
    """A shared warehouse with two Celery workers running, for the tests of one module."""
    dbs = Databases()
    dep = Deployment(tmp_path_factory.mktemp("shared"), estate, dbs, redis_url)
    try:
        for name in ("w1", "w2"):
            dep.start_worker(name)
        yield dep
    finally:
        dep.stop()
        dbs.drop()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, estate):
    """The embedded single-process deployment of the same estate: the reference every shared result must equal."""
    root = tmp_path_factory.mktemp("embedded")
    shutil.copytree(estate, root / "landing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSSYNC_") and k != "DAGSTER_HOME"}
    env.update(
        PSSYNC_WAREHOUSE=str(root / "warehouse.duckdb"),
        PSSYNC_LANDING_DIR=str(root / "landing"),
        PSSYNC_PARTITION_START="2026-01-01",
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "pssync"), *args], env=env, cwd=root, capture_output=True, text=True, timeout=900
        )

    run.root = root
    return run
