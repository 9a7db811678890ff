"""One writing run per warehouse: the lock a run, a backfill's date and a compaction hold."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from resources.warehouse import is_shared


class WarehouseBusy(RuntimeError):
    """Another pssync run holds the warehouse."""


def holder_of(path: str) -> str:
    """Who holds the warehouse now, as its lock file says (the run and its as-of date, its pid and start)."""
    target = Path(path).resolve()
    try:
        return target.with_name(target.name + ".lock").read_text(encoding="utf-8").strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def refused_while_written(path: str):
    """DuckDB's refusal to open a file that another process writes, as ``WarehouseBusy`` naming that process and
    what to do instead (any other error is raised as it is)."""
    try:
        yield
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseBusy(
            f"the warehouse {path} is being written by {holder_of(path)}: run this again when it ends, or read the "
            "published snapshot meanwhile (pssync query)"
        ) from None


@contextmanager
def warehouse_lock(path: str, as_of: date | None, wait: bool = False, holder: str = "pssync run"):
    """One writing run per warehouse. A second run leaves at once naming the run that holds it (or, with
    ``wait``, waits for it): no step of it ever meets DuckDB's file lock half-way through. A shared warehouse
    takes no lock: its catalog's transactions keep concurrent runs apart (docs/deployment.md)."""
    if is_shared(path):
        yield
        return
    target = Path(path).resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fh = open(target.with_name(target.name + ".lock"), "a+", encoding="utf-8")
    except OSError:  # the warehouse cannot be written there at all: the settings check says so, naming the setting
        yield
        return
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another pssync run"
            raise WarehouseBusy(f"warehouse {target} is in use by {holder}; wait for it or run with --wait") from None
        fh.seek(0)
        fh.truncate()
        label = f"{holder} as-of {as_of}" if as_of else holder  # compaction holds the warehouse for no date
        fh.write(f"{label} (pid {os.getpid()}, started {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ})")
        fh.flush()
        yield
    finally:
        fh.close()  # closing releases the lock
