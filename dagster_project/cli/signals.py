"""How a run stops on SIGTERM or Ctrl-C: whole steps or nothing, and always within STOP_GRACE seconds."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

from dagster._core.errors import DagsterExecutionInterruptedError

from resources.warehouse import request_stop

STOP_GRACE = 8.0  # seconds a run has, after SIGTERM or Ctrl-C, to stop by itself before the process ends


def terminate_on_sigterm() -> Callable[[], bool]:
    """SIGTERM ends a run like Ctrl-C: the step in progress rolls back its transaction, nothing is half-written.
    Returns a function that tells whether a stop was asked for: Dagster takes the signals over while it executes
    (and DuckDB turns one that lands in a query into a plain error), so the signal numbers are also written to a
    pipe (signal.set_wakeup_fd) that no handler can swallow."""

    def stop(signum, frame):
        request_stop()
        raise KeyboardInterrupt(f"signal {signum}")

    def hard_stop() -> None:
        # a step blocked inside a driver (a PSA statement that hangs) never returns to Python to see the signal:
        # the process ends anyway. Safe as a kill is: each step's writes are one transaction, a replay completes it
        sys.stdout.flush()
        print(
            f"pssync: stopped: a step did not end within {STOP_GRACE:.0f} s of the signal (its transaction is rolled "
            "back; run again to complete)",
            file=sys.stderr,
            flush=True,
        )
        os._exit(130)

    signal.signal(signal.SIGTERM, stop)
    default_hook = sys.unraisablehook

    def quiet_interrupt(unraisable) -> None:
        # a stop that lands while Python runs a finaliser is "ignored" there with a traceback on stderr; it is
        # recorded all the same (request_stop, the pipe below), so the run still ends with its one-line verdict
        if isinstance(unraisable.exc_value, (KeyboardInterrupt, DagsterExecutionInterruptedError)):
            request_stop()
            return
        default_hook(unraisable)

    sys.unraisablehook = quiet_interrupt
    # the C-level handler writes each signal's number to this pipe at once, whatever Python is doing (Dagster takes
    # the handlers over while it executes; a driver call may hold the main thread): a thread reads it and, on a stop,
    # gives the run STOP_GRACE seconds to end by itself
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    seen = bytearray()
    watchdog = threading.Timer(STOP_GRACE, hard_stop)
    watchdog.daemon = True

    def listen() -> None:
        while True:
            got = os.read(read_end, 1024)
            if not got:
                return
            seen.extend(got)
            if (signal.SIGTERM in seen or signal.SIGINT in seen) and not watchdog.is_alive():
                watchdog.start()

    threading.Thread(target=listen, daemon=True, name="pssync-signals").start()

    def stop_asked() -> bool:
        return signal.SIGTERM in seen or signal.SIGINT in seen

    return stop_asked


def ignore_sigterm() -> None:
    """Stopping already: a repeated SIGTERM must not kill the exit."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
