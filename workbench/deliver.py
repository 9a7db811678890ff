"""Event delivery in a process of its own, started by the pipeline's ``workbench/business_events`` step once the
run has recorded its events: the run never waits on a sink (a slow or drip-feeding webhook costs it nothing, and it
holds no warehouse lock while events travel). What this process does not deliver before its deadline stays in the
outbox, leased to no one after ``events.LEASE``: the next run or ``pssync events deliver`` sends it.

``python -m workbench.deliver DEADLINE``: the sinks and the store come from the environment the step gives it
(``PSSYNC_WORKFLOW_URL``, ``PSSYNC_WEBHOOK_URLS``, ``PSSYNC_WEBHOOK_SECRET``, ``PSSYNC_NATS_URL``,
``PSSYNC_NATS_STREAM``, ``PSSYNC_EVENT_MAX_ATTEMPTS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

DEADLINE = 300  # seconds a background round may take before it leaves the rest to the next one


def start(
    workflow_url: str,
    webhook_urls: str,
    webhook_secret: str,
    nats_url: str,
    nats_stream: str,
    max_attempts: int,
    deadline: float = DEADLINE,
) -> int:
    """Start a detached delivery round; returns its process id. Secrets travel in its environment, never on its
    command line (which ``ps`` shows)."""
    env = {
        **os.environ,
        "PSSYNC_WORKFLOW_URL": workflow_url,
        "PSSYNC_WEBHOOK_URLS": webhook_urls,
        "PSSYNC_WEBHOOK_SECRET": webhook_secret,
        "PSSYNC_NATS_URL": nats_url,
        "PSSYNC_NATS_STREAM": nats_stream,
        "PSSYNC_EVENT_MAX_ATTEMPTS": str(max_attempts),
    }
    child = subprocess.Popen(  # noqa: S603 - our own module, no shell
        [sys.executable, "-m", "workbench.deliver", str(deadline)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C of the run does not cut a delivery in half
    )
    return child.pid


def main(argv: list[str]) -> int:
    from workbench.events import deliver, sinks_from
    from workbench.store import open_store

    env = os.environ
    sinks = sinks_from(
        env.get("PSSYNC_WEBHOOK_URLS", ""),
        env.get("PSSYNC_WEBHOOK_SECRET", ""),
        env.get("PSSYNC_NATS_URL", ""),
        env.get("PSSYNC_NATS_STREAM", "PSSYNC_EVENTS"),
    )
    engine = open_store(env["PSSYNC_WORKFLOW_URL"])
    try:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        deliver(engine, sinks, now, int(env.get("PSSYNC_EVENT_MAX_ATTEMPTS", "8")), deadline=float(argv[0]))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
