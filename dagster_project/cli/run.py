"""``pssync run`` and ``pssync backfill``: settle as-of dates, one verdict line each, exit codes as a contract."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, timedelta

from dagster_project.cli.common import command_settings, warn_secrets
from dagster_project.cli.signals import ignore_sigterm, terminate_on_sigterm
from dagster_project.lock import WarehouseBusy, warehouse_lock
from dagster_project.preflight import as_of_problem, preflight
from dagster_project.runner import run_pipeline, yesterday_utc
from dagster_project.verdict import verdict, was_interrupted
from resources.settings import PssyncSettings
from resources.warehouse import stop_requested


def cmd_run(args) -> int:
    warn_secrets(args)
    settings = command_settings(args)
    stop_asked = terminate_on_sigterm()
    as_of = args.as_of or yesterday_utc()
    line, code = settle_date(args, settings, as_of, stop_asked, as_of_defaulted=args.as_of is None)
    print_verdict(line, code)
    return code


def cmd_backfill(args) -> int:
    """Every date from --from to --to, in date order: a date bills what earlier dates' batches left, so a date
    that fails stops the backfill there (the dates before it stay settled) and the line says how to go on."""
    warn_secrets(args)
    settings = command_settings(args)
    first, last = args.date_from, args.date_to
    head = f"pssync backfill {first}..{last}"
    problems = [as_of_problem(first, "--from"), as_of_problem(last, "--to")]
    problems += [f"--to {last} is before --from {first}"] if last < first else []
    for problem in filter(None, problems):
        print(f"{head}: NOT STARTED — {problem}", file=sys.stderr)
    if any(problems):
        return 2
    stop_asked = terminate_on_sigterm()
    dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    held = 0
    for n, as_of in enumerate(dates):
        line, code = settle_date(args, settings, as_of, stop_asked, tags={"pssync/backfill": f"{first}..{last}"})
        print_verdict(line, code)
        if code not in (0, 3):
            why = line.split(" — ", 1)[-1]
            rest = f"pssync backfill --from {as_of} --to {last}"
            print(
                f"{head}: STOPPED at {as_of} ({n} date(s) settled before it) — {why}; `{rest}` goes on", file=sys.stderr
            )
            return code
        held += code == 3
    note = f"; billing held on {held} of them (recon.billing_holds)" if held else ""
    print(f"{head}: OK — {len(dates)} date(s) settled in date order{note}")
    return 3 if held else 0


def print_verdict(line: str, code: int) -> None:
    """A date's verdict line: on stdout when the date settled (0, or 3 with billing held), else on stderr."""
    print(line, file=sys.stdout if code in (0, 3) else sys.stderr, flush=True)


def settle_date(
    args,
    settings: PssyncSettings,
    as_of: date,
    stop_asked: Callable[[], bool],
    as_of_defaulted: bool = False,
    tags: dict | None = None,
) -> tuple[str, int]:
    """One as-of date, as `pssync run` does it: the warehouse's lock, the settings checked before any step, the
    run with one line per stage, and the verdict line with its exit code (see `pssync run --help`)."""
    try:
        with warehouse_lock(settings.warehouse, as_of, wait=args.wait):
            problems = preflight(as_of, as_of_defaulted=as_of_defaulted)
            if problems:
                for problem in problems[:-1]:
                    print(f"pssync run {as_of}: NOT STARTED — {problem}", file=sys.stderr)
                return f"pssync run {as_of}: NOT STARTED — {problems[-1]}", 2
            what = f"the assets {args.select}" if args.select else f"job {args.job}"
            print(f"pssync run {as_of}: {what} ...", flush=True)
            result = run_pipeline(as_of, selection=args.select, raise_on_error=False, job_name=args.job, tags=tags)
            if stop_asked() or stop_requested() or was_interrupted(result):
                raise KeyboardInterrupt("stopped")
            print_run(result)
            return verdict(result, as_of, settings.warehouse)
    except WarehouseBusy as exc:
        return f"pssync run {as_of}: NOT STARTED — {exc}", 75
    except KeyboardInterrupt:
        ignore_sigterm()
        return f"pssync run {as_of}: INTERRUPTED — every step commits whole or not at all; run it again to finish", 130


STAGES = (
    ("raw", "extract"),
    ("canonical", "canonical"),
    ("recon", "recon"),
    ("billing", "billing"),
    ("marts", "marts"),
    ("ops", "ops"),
)


def stage_lines(result) -> list[str]:
    """One line per stage of a finished run: assets materialized, steps failed or skipped, rows where it counts."""
    done: dict[str, list] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        done.setdefault(mat.asset_key.path[0], []).append(mat)
    failed: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for e in result.all_events:
        if e.event_type_value in ("STEP_FAILURE", "STEP_SKIPPED"):
            prefix = e.step_key.split("__")[0] if "__" in e.step_key else "billing"
            target = failed if e.event_type_value == "STEP_FAILURE" else skipped
            target[prefix] = target.get(prefix, 0) + 1
    lines = []
    for prefix, stage in STAGES:
        mats = done.get(prefix, [])
        if not (mats or prefix in failed or prefix in skipped):
            continue
        rows = sum(int(m.metadata["rows_loaded"].value) for m in mats if "rows_loaded" in m.metadata)
        bad = sum(int(m.metadata["rows_quarantined"].value) for m in mats if "rows_quarantined" in m.metadata)
        extra = f", {rows:,} new rows, {bad:,} quarantined" if prefix == "raw" else ""
        problems = "".join(
            f", {n} {what}" for what, n in (("failed", failed.get(prefix, 0)), ("skipped", skipped.get(prefix, 0))) if n
        )
        lines.append(f"  {stage:10s} {len(mats):3d} asset(s) materialized{extra}{problems}")
    return lines


def print_run(result) -> None:
    for line in stage_lines(result):
        print(line)
