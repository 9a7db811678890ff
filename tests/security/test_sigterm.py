"""SIGTERM stops a run within 10 seconds whatever it waits on. Before the control, a run whose PSA read hung (the
default 300 s timeout) stopped 283 s after SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.security.conftest import Listener


class Silent(Listener):
    """A 'database' that accepts connections and never says a word."""

    def __init__(self):
        self.held = []
        super().__init__(self.held.append)

    def close(self):
        for c in self.held:
            c.close()
        super().close()


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
