"""SIGTERM stops a run within 10 seconds whatever it waits on. Before the control, a run whose PSA read hung (the
default 300 s timeout) stopped 283 s after SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time


class Silent:
    """A 'database' that accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.held = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted.set()

    def close(self):
        for c in self.held:
            c.close()
        self.sock.close()


def test_sigterm_ends_a_run_stuck_on_the_psa_within_ten_seconds(published, tmp_path):
    landing, _, _, m = published
    psa = Silent()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSSYNC_")}
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_project.cli",
            "run",
            "--as-of",
            m["as_of"],
            "--landing-dir",
            str(landing),
            "--warehouse",
            str(tmp_path / "wh.duckdb"),
            "--psa-url",
            f"postgresql://pssync@127.0.0.1:{psa.port}/psa",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert psa.accepted.wait(120), "the run never reached the PSA"
        time.sleep(1)  # well inside the read that hangs
        assert run.poll() is None
        asked = time.monotonic()
        run.send_signal(signal.SIGTERM)
        output = run.communicate(timeout=30)[0].decode()
        took = time.monotonic() - asked
    finally:
        if run.poll() is None:
            run.kill()
        psa.close()
    assert took < 10, f"stopped {took:.1f} s after SIGTERM"
    assert run.returncode == 130, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
