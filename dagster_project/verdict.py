"""The verdict of a run: one line that says how it ended, and its exit code."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Protocol

import dagster as dg

from resources.settings import current
from resources.warehouse import open_warehouse, table_exists


class RunResult(Protocol):
    """A finished run (Dagster's result), or a date's runs read as one (runner.DateRuns). Its events are Dagster's,
    whose ``event_specific_data`` is a union by event type: read by type here, hence ``Any``."""

    @property
    def success(self) -> bool: ...

    @property
    def all_events(self) -> list[Any]: ...


def _error_classes(error) -> str:
    names = []
    while error is not None:
        names.append(error.cls_name or "")
        error = getattr(error, "cause", None)
    return " ".join(names)


def _root_message(error) -> str:
    """The error our code raised in a failed step (below Dagster's wrappers), first line, without the trace
    or the exception's module path."""
    while (error.cls_name or "").startswith("Dagster") and getattr(error, "cause", None) is not None:
        error = error.cause
    text = (error.message or "").strip()
    first = text.splitlines()[0] if text else error.cls_name or "unknown error"
    return re.sub(r"^(?:[\w]+\.)+(\w+: )", r"\1", first)


def was_interrupted(result: RunResult) -> bool:
    """Whether a step ended because the run was asked to stop (SIGTERM, Ctrl-C)."""
    return any(
        "DagsterExecutionInterruptedError" in _error_classes(e.event_specific_data.error)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    )


def _run_error(result: RunResult) -> str | None:
    """The error that ended a run outside any step (the executor's, such as a Celery result that could not be
    fetched), first line, or None."""
    for e in result.all_events:
        if e.event_type_value in ("ENGINE_EVENT", "RUN_FAILURE"):
            error = getattr(e.event_specific_data, "error", None)
            if error is not None:
                return _root_message(error)
    return None


def _unfinished_steps(result: RunResult) -> tuple[list[str], bool]:
    """The steps that started and never ended, and whether any step reported success."""
    started, ended, succeeded = [], set(), False
    for e in result.all_events:
        if e.event_type_value == "STEP_START":
            started.append(e.step_key)
        elif e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            ended.add(e.step_key)
            succeeded = succeeded or e.event_type_value == "STEP_SUCCESS"
    return [s for s in started if s not in ended], succeeded


def _memory_hint(error) -> str:
    """What to change when a step ran out of DuckDB's memory cap: the setting, as it is in force."""
    if "OutOfMemoryException" not in _error_classes(error):
        return ""

    limit = current().duckdb_memory_limit
    return f" (DuckDB's cap PSSYNC_DUCKDB_MEMORY_LIMIT={limit} is too small for this step: raise it; operations.md)"


def verdict(result: RunResult, as_of: date, warehouse: str) -> tuple[str, int]:
    """One line that says how the run ended, and the exit code: 0 success, 3 success with billing held by a
    faulty input, 1 failure (the failed step or check and its reason)."""
    head = f"pssync run {as_of}"
    failed_checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.event_specific_data.passed
        and e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR
    ]
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    if failures:
        first = failures[0]
        blocking = [c for c in failed_checks if c.asset_key.to_user_string().replace("/", "__") == first.step_key]
        if not blocking and "AssetCheckFailed" in _error_classes(first.event_specific_data.error):
            blocking = failed_checks
        if blocking:
            c = blocking[0]
            reason = c.description or "; ".join(str(v.value) for v in c.metadata.values())
            why = f"check {c.asset_key.to_user_string()}:{c.check_name} failed: {reason}"
        else:
            error = first.event_specific_data.error
            why = f"{first.step_key.replace('__', '/')} failed: {_root_message(error)}{_memory_hint(error)}"
        more = f" (and {len(failures) - 1} more step(s))" if len(failures) > 1 else ""
        return f"{head}: FAILED — {why}{more}", 1
    unfinished, any_success = _unfinished_steps(result)
    if unfinished or not any_success or not result.success:
        # no step failed, yet the run did not end well: a step whose process died, or steps sent to Celery workers
        # that never reported back
        named = ", ".join(s.replace("__", "/") for s in unfinished[:3]) or "no step reported success"
        error = _run_error(result)
        why = f": {error}" if error else ""
        return f"{head}: FAILED — the run did not finish: {named}{why} (see the run in the Dagster UI)", 1

    con = open_warehouse(warehouse, read_only=True)
    try:
        batches = (
            con.execute(
                """SELECT count(*), coalesce(sum(line_count), 0), currency, sum(net_amount)
                                 FROM billing.batches WHERE as_of_date = ? GROUP BY currency ORDER BY currency""",
                [as_of],
            ).fetchall()
            if table_exists(con, "billing.batches")
            else []
        )
        holds = (
            con.execute(
                """
            SELECT coalesce(file || CASE WHEN row_number IS NOT NULL OR file <> record_key THEN ' record ' || record_key
                                         ELSE '' END, message) || ' (' || rule || ')',
                   count(DISTINCT coalesce(scope_key, '*'))
            FROM recon.billing_holds WHERE as_of_date = ? GROUP BY ALL ORDER BY 1""",
                [as_of],
            ).fetchall()
            if table_exists(con, "recon.billing_holds")
            else []
        )
    finally:
        con.close()
    n = sum(b[0] for b in batches)
    lines = sum(b[1] for b in batches)
    money = ", ".join(f"{b[3]:,.2f} {b[2]}" for b in batches) or "nothing to bill"
    line = f"{head}: OK — {n} batch(es), {lines:,} line(s), net {money}"
    if holds:
        named = ", ".join(h for h, _ in holds[:3]) + (f" and {len(holds) - 3} more" if len(holds) > 3 else "")
        return f"{line}; BILLING HELD by {len(holds)} faulty input(s): {named} (see recon.billing_holds)", 3
    return line, 0
