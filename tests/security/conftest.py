"""The security suite's shared parts: a billed and published warehouse, people of every role, a served workbench."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import manifest
from tests.helpers import all_assets, materialize_as_of

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 26, 9, 0)
PEOPLE = (
    ("fiona", "finance"),
    ("fred", "finance"),
    ("dora", "delivery"),
    ("hana", "hr"),
    ("anna", "analyst"),
    ("adam", "admin"),
)


@pytest.fixture(scope="module")
def published(small_estate, tmp_path_factory):
    """A nightly over the small estate with its marts published: (landing, warehouse, outputs, manifest). Tests
    that change the warehouse take a copy (``own_copy``)."""
    from assets.workbench.assets import exception_states

    root = tmp_path_factory.mktemp("published")
    landing = root / "landing"
    shutil.copytree(small_estate, landing)
    wh, out = root / "wh.duckdb", root / "out"
    m = manifest(landing)
    assert materialize_as_of(
        landing, wh, m["as_of"], assets=[*all_assets(marts=True), exception_states], outputs=out
    ).success
    return landing, wh, out, m


@pytest.fixture
def own_copy(published, tmp_path):
    """A private copy of the published estate (landing, warehouse, store, outputs) that a test may break."""
    _landing, wh, _out, m = published
    dst = tmp_path / "copy"
    shutil.copytree(wh.parent, dst)
    return dst / "landing", dst / wh.name, dst / "out", m


def people(engine, threshold: str = "1000.00") -> None:
    """A person of every role (two in finance), a finance service account, and the admin's threshold."""
    from workbench.policy import set_policy
    from workbench.users import add_user

    for name, role in PEOPLE:
        add_user(engine, name, role, PASSWORD, T0)
    add_user(engine, "finbot", "finance", None, T0)
    set_policy(engine, "dual_approval_above", threshold, "adam", T0)


def store_of(wh: Path):
    from workbench.store import open_store

    return open_store(f"sqlite:///{wh.parent / 'workflow.db'}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """``pssync serve`` in its own process on a loopback port, over a store and outputs."""

    def __init__(self, warehouse: Path, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster_project.cli",
                "serve",
                "--port",
                str(self.port),
                "--warehouse",
                str(warehouse),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stdout.read().decode()) from None
                time.sleep(0.2)
        raise RuntimeError("pssync serve did not start within 60 s")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def close(self) -> str:
        self.proc.terminate()
        try:
            return self.proc.communicate(timeout=20)[0].decode()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return ""


class Listener:
    """A loopback TCP server that hands each connection to ``serve(conn)`` on a thread of its own."""

    def __init__(self, serve):
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.accepted = threading.Event()
        self._serve = serve
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.accepted.set()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def close(self):
        self.sock.close()
