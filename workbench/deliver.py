"""Event delivery in a process of its own, started by the pipeline's ``workbench/business_events`` step once the
run has recorded its events: the run never waits on a sink (a slow or drip-feeding webhook costs it nothing, and it
holds no warehouse lock while events travel). What this process does not send before its deadline stays in the
outbox for the next run or ``pssync events deliver``; a process that dies holds its deliveries ``events.LEASE`` at
most.

``python -m workbench.deliver DEADLINE``: the settings come from the environment the step gives it (the run's own,
with the store's URL and the sinks as the run had them).
"""

from __future__ import annotations

import os
import subprocess
import sys

from resources.clock import now_utc
from resources.settings import PssyncSettings
from workbench.events import deliver, sinks_of
from workbench.store import open_store

DEADLINE = 300  # seconds a background round may take before it leaves the rest to the next one


def start(settings, deadline: float = DEADLINE) -> int:
    """Start a detached delivery round for the run's settings; returns its process id. Secrets stay in the
    environment it inherits (``PSSYNC_WEBHOOK_SECRET``), never on its command line (which ``ps`` shows)."""
    env = {  # the settings a round reads, as they stand in the run (a command-line option may have set them)
        **os.environ,
        "PSSYNC_WORKFLOW_URL": settings.workflow,
        "PSSYNC_WEBHOOK_URLS": settings.webhook_urls,
        "PSSYNC_NATS_URL": settings.nats_url,
        "PSSYNC_NATS_STREAM": settings.nats_stream,
        "PSSYNC_EVENT_MAX_ATTEMPTS": str(settings.event_max_attempts),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "workbench.deliver", str(deadline)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C of the run does not cut a delivery in half
    )
    return child.pid


def main(argv: list[str]) -> int:
    settings = PssyncSettings.from_env()
    engine = open_store(settings.workflow)
    try:
        deliver(engine, sinks_of(settings), now_utc(), settings.event_max_attempts, deadline=float(argv[0]))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
