"""The ``pssync`` command line."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from dagster_project.cli_workbench import add_batch_actions, add_parsers, cmd_batch_decision, open_workflow


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def _settings_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings (default: the PSSYNC_* environment variable, else the embedded default)")
    g.add_argument("--landing-dir", help="landing folder of the source drops (PSSYNC_LANDING_DIR)")
    g.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    g.add_argument("--psa-url", help="SQLAlchemy URL of the PSA database (PSSYNC_PSA_URL)")
    g.add_argument("--output-dir", help="where batch files and reports go (PSSYNC_OUTPUT_DIR)")
    g.add_argument("--reporting-currency", help="reporting currency, default USD (PSSYNC_REPORTING_CURRENCY)")
    g.add_argument(
        "--staffing-threshold", type=int, help="probability %% for the staffing forecast (PSSYNC_STAFFING_THRESHOLD)"
    )
    g.add_argument("--erp-staging-url", help="SQLAlchemy URL of the ERP staging table (PSSYNC_ERP_STAGING_URL)")
    g.add_argument("--workflow-url", help="the workbench's store (PSSYNC_WORKFLOW_URL; default beside the warehouse)")


def _settings(args, defaults: dict | None = None):
    """The settings of this command: its options over the PSSYNC_* environment over ``defaults``; installed as
    the ones in force (resources.settings.current) until the command returns."""
    from resources.settings import PssyncSettings, install

    overrides = {k: v for k, v in vars(args).items() if k in PssyncSettings.model_fields and v not in (None, "")}
    if getattr(args, "verbose", False):
        overrides["log_level"] = "INFO"
    return install(PssyncSettings.from_env(overrides, defaults))


def cmd_generate(args) -> int:
    from estate import EstateConfig, generate_estate

    cfg = EstateConfig(
        out=Path(args.out),
        employees=args.employees,
        months=args.months,
        seed=args.seed,
        end_date=args.end_date,
        anomaly_rate=args.anomaly_rate,
        psa_url=args.psa_url,
        progress=not args.quiet,
    )
    t0 = time.perf_counter()
    manifest = generate_estate(cfg)
    est = manifest["estate"]
    print(
        f"estate written to {args.out} in {time.perf_counter() - t0:.1f}s: {est['employees']} employees, "
        f"{est['start_date']}..{est['end_date']}, {est['time_entries']:,} time entries, "
        f"{est['invoices']:,} invoices; ground truth in {args.out}/_truth/manifest.json"
    )
    return 0


def _warn_secrets(args) -> None:
    import sqlalchemy as sa

    for option, var in (("psa_url", "PSSYNC_PSA_PASSWORD"), ("erp_staging_url", "PSSYNC_ERP_STAGING_PASSWORD")):
        url = getattr(args, option, None)
        if url and "://" in url and sa.engine.make_url(url).password:
            print(
                f"warning: the password in --{option.replace('_', '-')} is visible to every user of this machine "
                f"(ps); leave it out and set {var}, PGPASSWORD or ~/.pgpass instead",
                file=sys.stderr,
            )


STOP_GRACE = 8.0  # seconds a run has, after SIGTERM or Ctrl-C, to stop by itself before the process ends


def _terminate_on_sigterm():
    """SIGTERM ends a run like Ctrl-C: the step in progress rolls back its transaction, nothing is half-written.
    Returns a function that tells whether a stop was asked for: Dagster takes the signals over while it executes
    (and DuckDB turns one that lands in a query into a plain error), so the signal numbers are also written to a
    pipe (signal.set_wakeup_fd) that no handler can swallow."""
    import signal
    import threading

    from resources.warehouse import request_stop

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
        from dagster._core.errors import DagsterExecutionInterruptedError

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


def cmd_run(args) -> int:
    from dagster_project.pipeline import yesterday_utc

    _warn_secrets(args)
    settings = _settings(args)
    stop_asked = _terminate_on_sigterm()
    as_of = args.as_of or yesterday_utc()
    line, code = _settle_date(args, settings, as_of, stop_asked, as_of_defaulted=args.as_of is None)
    _print_verdict(line, code)
    return code


def cmd_backfill(args) -> int:
    """Every date from --from to --to, in date order: a date bills what earlier dates' batches left, so a date
    that fails stops the backfill there (the dates before it stay settled) and the line says how to go on."""
    from dagster_project.pipeline import as_of_problem

    _warn_secrets(args)
    settings = _settings(args)
    first, last = args.date_from, args.date_to
    head = f"pssync backfill {first}..{last}"
    problems = [as_of_problem(first, "--from"), as_of_problem(last, "--to")]
    problems += [f"--to {last} is before --from {first}"] if last < first else []
    for problem in filter(None, problems):
        print(f"{head}: NOT STARTED — {problem}", file=sys.stderr)
    if any(problems):
        return 2
    stop_asked = _terminate_on_sigterm()
    dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    held = 0
    for n, as_of in enumerate(dates):
        line, code = _settle_date(args, settings, as_of, stop_asked, tags={"pssync/backfill": f"{first}..{last}"})
        _print_verdict(line, code)
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


def _print_verdict(line: str, code: int) -> None:
    """A date's verdict line: on stdout when the date settled (0, or 3 with billing held), else on stderr."""
    print(line, file=sys.stdout if code in (0, 3) else sys.stderr, flush=True)


def _settle_date(
    args, settings, as_of: date, stop_asked, as_of_defaulted: bool = False, tags: dict | None = None
) -> tuple[str, int]:
    """One as-of date, as `pssync run` does it: the warehouse's lock, the settings checked before any step, the
    run with one line per stage, and the verdict line with its exit code (see `pssync run --help`)."""
    from dagster_project.pipeline import (
        WarehouseBusy,
        preflight,
        run_pipeline,
        verdict,
        warehouse_lock,
        was_interrupted,
    )
    from resources.warehouse import stop_requested

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
            _print_run(result)
            return verdict(result, as_of, settings.warehouse)
    except WarehouseBusy as exc:
        return f"pssync run {as_of}: NOT STARTED — {exc}", 75
    except KeyboardInterrupt:
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already: a repeated SIGTERM must not kill the exit
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
    failed, skipped = {}, {}
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


def _print_run(result) -> None:
    for line in stage_lines(result):
        print(line)


def cmd_demo(args) -> int:
    import os
    import shutil

    import dagster as dg

    from dagster_project.pipeline import run_pipeline
    from estate import EstateConfig, generate_estate
    from estate.config import DEFAULT_END_DATE

    root = Path(args.dir).resolve()
    landing = root / "landing"
    if not (landing / "_truth" / "manifest.json").exists():
        print(f"generating the demo estate ({args.employees} employees x {args.months} months) in {landing} ...")
        generate_estate(EstateConfig(out=landing, employees=args.employees, months=args.months, seed=args.seed))
    settings = _settings(
        args,
        defaults={
            "landing_dir": str(landing),
            "warehouse": str(root / "warehouse.duckdb"),
            "output_dir": str(root / "output"),
        },
    )
    home = Path(os.environ.get("DAGSTER_HOME") or root / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).resolve().parent.parent / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    where = dg.DagsterInstance.from_config(str(home))
    as_of = DEFAULT_END_DATE
    print(f"nightly_sync for as-of {as_of} (in process) ...")
    result = run_pipeline(as_of, raise_on_error=False, job_name="nightly_sync", on=where)
    _print_run(result)
    approved = _simulate_new_approvals(landing, as_of)
    next_day = as_of + timedelta(days=1)
    print(f"\n{approved} submitted entries approved the next morning; hourly_sync for as-of {next_day} ...")
    hourly = run_pipeline(next_day, raise_on_error=False, job_name="hourly_sync", on=where)
    _print_run(hourly)
    ok = result.success and hourly.success
    print("\nsummary")
    print(f"  landing folder : {landing}")
    print(f"  warehouse      : {settings.warehouse}")
    print(f"  outputs        : {settings.outputs}")
    print("  open the UI    : make dev   (dagster dev over this warehouse, http://127.0.0.1:3000)")
    _print_warehouse_summary(settings.warehouse, as_of, settings.reporting_currency)
    from assets.marts.report import write_report

    report = write_report(
        settings.warehouse,
        as_of,
        settings.reporting_currency,
        Path(settings.outputs) / "reports" / f"pssync-report-{as_of}.html",
    )
    print(f"  report         : {report}")
    print(
        f'  analysts       : .venv/bin/pssync query "SELECT * FROM marts.unbilled_wip LIMIT 5" '
        f"--warehouse {settings.warehouse}   (the published snapshot, read-only)"
    )
    print(f"  try: .venv/bin/pssync exceptions --as-of {as_of} --owner finance --warehouse {settings.warehouse}")
    print(f"       .venv/bin/pssync batches --as-of {as_of} --warehouse {settings.warehouse}")
    users = _demo_users(settings.workflow)
    key = _an_open_exception(settings.workflow)
    if key:
        print(
            f"       PSSYNC_PASSWORD={DEMO_PASSWORD.format(role='finance')} .venv/bin/pssync exceptions ack '{key}' "
            f"--as finance --warehouse {settings.warehouse}   (who acts is proven: --as alone acts for no one)"
        )
    print("  workbench      : .venv/bin/pssync serve --warehouse " + settings.warehouse + "   (http://127.0.0.1:8080)")
    for name, role, password in users:
        print(f"       sign in as {name:<9} password {password:<16} ({role})")
    return 0 if ok else 1


DEMO_PASSWORD = "{role}-demo-2026"  # the demo's own passwords, printed by `make demo`; real users choose theirs


def _demo_users(url: str) -> list[tuple[str, str, str]]:
    """One workbench user per role (two in finance: large batches need two approvals), made once."""
    from assets.common import now_utc
    from workbench.store import open_store
    from workbench.users import ROLES, UserError, add_user

    engine = open_store(url)
    made = []
    try:
        for role in ROLES:
            for name in [role, "finance2"] if role == "finance" else [role]:
                password = DEMO_PASSWORD.format(role=role)
                try:
                    add_user(engine, name, role, password, now_utc())
                except UserError:  # made by an earlier demo (and perhaps changed since: its admin's business)
                    pass
                made.append((name, role, password))
    finally:
        engine.dispose()
    return made


def _an_open_exception(url: str) -> str | None:
    """An open exception of the workflow store, to show acting on one (none if the store is not there)."""
    import sqlalchemy as sa

    from workbench.store import exception_states

    try:
        engine = sa.create_engine(url)
        with engine.connect() as con:
            t = exception_states.c
            return con.execute(
                sa.select(t.exception_key)
                .where(t.state == "open", t.object == "time_to_bill", t.owner == "finance")
                .order_by(t.exception_key)
            ).scalar()
    except sa.exc.SQLAlchemyError:
        return None


def _simulate_new_approvals(landing: Path, as_of: date) -> int:
    """The demo's "next morning": managers approve the entries still waiting for approval."""
    import sqlite3

    db = sqlite3.connect(landing / "psa" / "psa.db")
    try:
        stamp = f"{as_of + timedelta(days=1)} 09:00:00.000000"
        n = db.execute(
            "UPDATE time_entries SET status = 'approved', approved_at = ?, updated_at = ? "
            "WHERE status = 'submitted' AND deleted_at IS NULL",
            (stamp, stamp),
        ).rowcount
        db.commit()
        return n
    finally:
        db.close()


def _print_warehouse_summary(path: str, as_of: date, cur: str) -> None:

    from assets.ops.exceptions import OPEN_EXCEPTIONS_MEANING, open_exceptions
    from resources.warehouse import table_exists

    from resources.warehouse import open_warehouse

    con = open_warehouse(path, read_only=True)
    try:
        rows = con.execute("""SELECT source || '.' || object, sum(rows_loaded), sum(rows_quarantined)
                              FROM ops.sync_runs GROUP BY 1 ORDER BY 1""").fetchall()
        print("  raw layer (rows loaded / quarantined, all runs):")
        for name, loaded, bad in rows:
            print(f"    {name:28s} {loaded:>10,} {bad:>6,}")
        print(f"  reconciliation as of {as_of}:")
        print(f"    {'status':22s} {'entries':>8s} {'amount at risk (' + cur + ')':>26s}")
        for status, n, risk in con.execute(
            """SELECT recon_status, count(*), sum(amount_at_risk_reporting)
                                              FROM recon.time_to_bill WHERE as_of_date = ? GROUP BY 1 ORDER BY 1""",
            [as_of],
        ).fetchall():
            print(f"    {status:22s} {n:>8,} {risk or 0:>26,.2f}")
        if table_exists(con, "marts.unbilled_wip"):
            wip, leak = con.execute(
                """SELECT sum(unbilled_value_reporting), sum(leakage_total_reporting)
                                       FROM marts.unbilled_wip WHERE as_of_date = ?""",
                [as_of],
            ).fetchall()[0]
            print(
                f"  unbilled approved work (WIP): {wip or 0:,.2f} {cur}, of which leakage {leak or 0:,.2f} {cur} "
                "(older than 30 days, or not billable as things stand)"
            )
        for n, lines, currency, net in con.execute(
            """
                SELECT count(*), sum(line_count), currency, sum(net_amount) FROM billing.batches
                WHERE as_of_date = ? GROUP BY currency ORDER BY currency""",
            [as_of],
        ).fetchall():
            print(
                f"  billing batches in {currency}: {n} with {lines:,} lines, net {net:,.2f} {currency} "
                "(files in the outputs folder)"
            )
        n_exc = open_exceptions(con, as_of).height
        print(
            f"  open exceptions as of {as_of}: {n_exc:,} ({OPEN_EXCEPTIONS_MEANING}; "
            f"list them: .venv/bin/pssync exceptions --as-of {as_of})"
        )
    finally:
        con.close()


def _warehouse_path(args) -> str:
    import os

    from resources.warehouse import is_shared

    path = _settings(args).warehouse
    if not is_shared(path) and not os.path.exists(path):
        raise SystemExit(f"no warehouse at {path}: run `pssync run` (or `make demo`) first, or pass --warehouse")
    return path


def _emit(frame, fmt: str) -> None:
    import json

    if fmt == "csv":
        sys.stdout.write(frame.write_csv())
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, indent=1) + "\n")
    else:
        import polars as pl

        with pl.Config(
            tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=240, tbl_hide_dataframe_shape=True
        ):
            print(frame)


def cmd_exception_action(args) -> int:
    """``pssync exceptions ack|assign|waive|comment|history KEY``: a person's action in the workflow store."""
    import json

    from assets.common import now_utc
    from dagster_project.cli_workbench import NotProven, acting_user
    from workbench.lifecycle import ActionRefused, act, history

    settings = _settings(args)
    if not args.key:
        print(
            f"pssync exceptions {args.action}: name the exception (layer|source|object|record_key|rule)",
            file=sys.stderr,
        )
        return 2
    engine = open_workflow(settings, f"exceptions {args.action}")
    try:
        if args.action == "history":
            for h in history(engine, args.key):
                print(json.dumps(h, default=str))
            return 0
        after = act(
            engine,
            args.key,
            args.action,
            acting_user(engine, args.actor),
            now_utc(),
            assignee=args.assignee,
            reason=args.reason,
            comment=args.comment,
        )
    except (ActionRefused, NotProven) as exc:
        print(f"pssync exceptions {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"{args.key}: {after['state']}" + (f" (assignee {after['assignee']})" if after.get("assignee") else ""))
    return 0


def cmd_exceptions(args) -> int:
    if args.action:
        return cmd_exception_action(args)
    if args.as_of is None:
        print("pssync exceptions: --as-of is required to list exceptions", file=sys.stderr)
        return 2

    from assets.ops.exceptions import OPEN_EXCEPTIONS_MEANING, open_exceptions
    from resources.warehouse import table_exists

    from resources.warehouse import open_warehouse

    con = open_warehouse(_warehouse_path(args), read_only=True)
    try:
        if (
            not table_exists(con, "recon.time_to_bill")
            or not con.execute("SELECT count(*) FROM recon.time_to_bill WHERE as_of_date = ?", [args.as_of]).fetchall()[
                0
            ][0]
        ):
            print(
                f"no reconciliation for as-of {args.as_of}: run `pssync run --as-of {args.as_of}` first",
                file=sys.stderr,
            )
            return 2
        frame = open_exceptions(con, args.as_of)
    finally:
        con.close()
    if args.owner:
        import polars as pl

        frame = frame.filter(pl.col("owner") == args.owner)
    _emit(frame, args.format)
    if args.format == "table":
        print(
            f"{frame.height} open exception(s) as of {args.as_of}"
            + (f" for {args.owner}" if args.owner else "")
            + f" ({OPEN_EXCEPTIONS_MEANING})"
        )
    return 0


def _with_settings(func):
    """A workbench command, given this command's settings."""
    return lambda args: func(args, _settings(args))


def cmd_batches(args) -> int:
    if args.action:
        return cmd_batch_decision(args, _settings(args))
    if not args.as_of:
        print("pssync batches: --as-of is required to list batches", file=sys.stderr)
        return 2

    from resources.warehouse import open_warehouse, read_frame, table_exists

    con = open_warehouse(_warehouse_path(args), read_only=True)
    try:
        if not table_exists(con, "billing.batches"):
            print("no billing batches yet: run `pssync run --as-of DATE` first", file=sys.stderr)
            return 2
        if args.batch:
            frame = read_frame(
                con,
                "SELECT * EXCLUDE (as_of_date) FROM billing.batch_lines WHERE batch_id = $b ORDER BY line_no",
                {"b": args.batch},
            )
        else:
            frame = read_frame(
                con, "SELECT * FROM billing.batches WHERE as_of_date = $d ORDER BY batch_id", {"d": args.as_of}
            )
    finally:
        con.close()
    if args.batch and frame.height == 0:
        print(f"no batch {args.batch!r}: `pssync batches --as-of DATE` lists the batches of a date", file=sys.stderr)
        return 2
    _emit(frame, args.format)
    if args.format == "table" and not args.batch:
        print(f"{frame.height} batch(es) as of {args.as_of}")
    return 0


# the analysts' SQL reads the snapshot and nothing else: no file, extension, ATTACH, COPY or setting (DuckDB's own
# switches, locked so that no statement can turn them back on); docs/workbench.md, Security
QUERY_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "lock_configuration": True,
}


def cmd_query(args) -> int:
    """Analysts' SQL on the published snapshot (read-only: it answers while syncs write the warehouse)."""
    import duckdb

    from resources.outputs import snapshot_path

    path = Path(args.snapshot) if args.snapshot else snapshot_path(_settings(args).outputs)
    if not path.exists():
        print(
            f"no published snapshot at {path}: run `pssync run` (or `make demo`) first, or pass --snapshot",
            file=sys.stderr,
        )
        return 2
    try:
        con = duckdb.connect(str(path), read_only=True, config=QUERY_CONFIG)
    except duckdb.Error as exc:
        print(f"pssync query: cannot open {path}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    try:
        relation = con.sql(args.sql)
        frame = relation.pl() if relation is not None else None  # a statement that returns no rows
    except duckdb.Error as exc:
        print(f"pssync query: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        con.close()
    if frame is not None:
        _emit(frame, args.format)
    return 0


def cmd_compact(args) -> int:
    """Give the warehouse's free space back to the file system (docs/operations.md, Storage)."""
    from dagster_project.pipeline import WarehouseBusy, warehouse_lock
    from resources.compaction import CompactionError, compact, compact_lake
    from resources.warehouse import WarehouseError, is_shared

    if is_shared(_warehouse_path(args)):
        try:
            before, after = compact_lake(_warehouse_path(args))
        except WarehouseError as exc:
            print(f"pssync compact: {exc}", file=sys.stderr)
            return 2
        print(f"shared warehouse data files: {before / 2**20:,.1f} MiB -> {after / 2**20:,.1f} MiB")
        return 0
    path = Path(_warehouse_path(args))
    try:
        with warehouse_lock(str(path), None, wait=args.wait, holder="pssync compact"):
            before, after = compact(path)
    except (WarehouseBusy, CompactionError) as exc:
        print(f"pssync compact: {exc}", file=sys.stderr)
        return 75 if isinstance(exc, WarehouseBusy) else 1
    print(f"{path}: {before / 2**20:,.1f} MiB -> {after / 2**20:,.1f} MiB")
    return 0


def cmd_pools(args) -> int:
    """Create, in the Dagster instance of $DAGSTER_HOME, the writer pool of every step of every job (once, when a
    production instance is set up, and after an upgrade adds assets): no run, whoever launches it, then meets
    Dagster's race of two runs creating one pool (docs/deployment.md)."""
    from dagster_project.pipeline import create_pools, limits_pools, open_dagster_instance, pools_message

    instance, why = open_dagster_instance()
    if instance is None:
        print(f"pssync pools: {why or 'DAGSTER_HOME is not set: it names the Dagster instance'}", file=sys.stderr)
        return 2
    from dagster_project.definitions import build_definitions

    try:
        if not limits_pools(instance):
            print("this instance limits no pools (the embedded one runs one run at a time): nothing to create")
            return 0
        print(pools_message(create_pools(instance, *build_definitions().get_repository_def().get_all_jobs())))
        return 0
    finally:
        instance.dispose()


def cmd_report(args) -> int:
    from assets.marts.report import write_report
    from resources.settings import current

    path = _warehouse_path(args)
    out = Path(current().outputs) / "reports" / f"pssync-report-{args.as_of}.html"
    write_report(path, args.as_of, current().reporting_currency, out)
    print(f"report written to {out}")
    return 0


def cmd_bench(args) -> int:
    import importlib.util

    missing = [m for m in ("matplotlib", "datacompy") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"pssync bench needs the bench extras ({', '.join(missing)} missing): run `make bench`, or "
            "`.venv/bin/pip install -e '.[bench]'`",
            file=sys.stderr,
        )
        return 2
    from benchmarks import run

    sys.argv = ["pssync bench", "--sizes", args.sizes, "--shared", args.shared]
    sys.argv += ["--skip-references"] if args.skip_references else []
    return run.main()


JOB_NAMES = (
    "full_pipeline",
    "nightly_sync",
    "entity_settle",
    "firm_view",
    "hourly_sync",
    "file_drop_sync",
    "staffing_refresh",
)
"""The jobs `--job` offers (dagster_project/jobs.py, JOBS; a test holds the two lists equal): named here, so that
building the parser loads no asset. Loading them reads the settings, and a wrong one would stop `--help` too."""


def _run_options(p: argparse.ArgumentParser) -> None:
    """What `run` and `backfill` share: which assets, waiting for the warehouse, the log, the settings."""
    p.add_argument(
        "--select", default=None, help="asset keys, comma-separated, e.g. 'canonical/time_entry,canonical/project'"
    )
    p.add_argument(
        "--job",
        default="full_pipeline",
        choices=JOB_NAMES,
        help="the job to run (default: every asset, then reconciliation and billing per legal entity, then the "
        "firm-wide view); hourly_sync is what the hourly schedule runs; entity_settle reconciles and bills the "
        "date's legal entities alone",
    )
    p.add_argument("--wait", action="store_true", help="wait for a run that holds the warehouse instead of leaving")
    p.add_argument(
        "--verbose", action="store_true", help="show Dagster's log, stack traces included (PSSYNC_LOG_LEVEL=INFO)"
    )
    _settings_options(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pssync", description="Keep time, billing and planning in step across CRM, PSA, HR, ERP and payroll."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser(
        "generate",
        help="write a synthetic services-firm estate with known answers",
        description="Write every source of sources.md, with injected anomalies and a ground-truth "
        "manifest under DIR/_truth/.",
    )
    g.add_argument("--out", required=True, help="landing folder to write")
    g.add_argument("--employees", type=int, default=200)
    g.add_argument("--months", type=int, default=12)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--end-date", type=_date, default=None, help="last day of the estate (default 2026-09-30)")
    g.add_argument("--psa-url", default=None, help="write the PSA to this SQLAlchemy URL instead of DIR/psa/psa.db")
    g.add_argument("--anomaly-rate", type=float, default=0.01, help="share of time entries with an injected defect")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser(
        "run",
        help="materialize the pipeline in process for an as-of date",
        description="Materialize every asset (or --select) in process for --as-of. The last line is "
        "the verdict. Exit codes: 0 success; 3 success with billing held by a faulty input "
        "(recon.billing_holds); 1 a step or check failed; 2 a setting is wrong (checked "
        "before any step, one line each); 75 another run holds the "
        "warehouse; 130 interrupted (SIGTERM, Ctrl-C).",
    )
    r.add_argument("--as-of", type=_date, default=None, help="business date of the run (default: yesterday, UTC)")
    _run_options(r)
    r.set_defaults(func=cmd_run)

    bf = sub.add_parser(
        "backfill",
        help="settle a range of as-of dates in date order, one run per date",
        description="Run --job for every date from --from to --to, in date order (a date bills what earlier dates "
        "left). One verdict line per date, then one for the backfill. A failed date stops it there, naming "
        "the command that goes on. Exit codes as `pssync run`'s, of the date that stopped it (else 3 when a "
        "date's billing was held, else 0). Each date's run is tagged pssync/backfill in the Dagster UI.",
    )
    bf.add_argument("--from", dest="date_from", type=_date, required=True, help="first as-of date")
    bf.add_argument("--to", dest="date_to", type=_date, required=True, help="last as-of date (included)")
    _run_options(bf)
    bf.set_defaults(func=cmd_backfill)

    e = sub.add_parser(
        "exceptions",
        help="list open exceptions, or act on one (ack, assign, waive, comment, history)",
        description="Without an action: flagged time entries, unmatched billing lines, contractor-hours gaps and "
        "open master-data / quarantine exceptions, as of a reconciled date (--as-of). With one: act on the "
        "exception KEY (layer|source|object|record_key|rule) in the workflow store, as the person --as; works "
        "while a sync holds the warehouse (docs/workbench.md).",
    )
    e.add_argument("action", nargs="?", choices=["ack", "assign", "waive", "comment", "history"])
    e.add_argument("key", nargs="?", help="the exception: layer|source|object|record_key|rule")
    e.add_argument("--as", dest="actor", help="who acts, proven by PSSYNC_PASSWORD (or asked) or PSSYNC_TOKEN")
    e.add_argument("--assignee", help="ack / assign: who works it")
    e.add_argument("--reason", help="waive: the reason code")
    e.add_argument("--comment", help="waive / comment: the text")
    e.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    e.add_argument("--as-of", type=_date, help="list: a reconciled as-of date")
    e.add_argument("--owner", choices=["finance", "delivery", "hr", "integration"], help="only this owner's exceptions")
    e.add_argument("--format", choices=["table", "csv", "json"], default="table")
    e.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    e.set_defaults(func=cmd_exceptions)

    b = sub.add_parser(
        "batches",
        help="list the billing batches of an as-of date (or one batch's lines); release or reject one",
        description="Batch headers (lines, net, tax, gross) of an as-of date; --batch shows its lines. "
        "release|reject BATCH --as NAME: a finance user's decision in the workflow store (docs/billing.md); "
        "status [BATCH]: the decisions.",
    )
    add_batch_actions(b)
    b.add_argument("--as-of", type=_date, help="list: an as-of date")
    b.add_argument("--batch", help="a batch id: list its lines instead")
    b.add_argument("--format", choices=["table", "csv", "json"], default="table")
    b.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    b.set_defaults(func=cmd_batches)

    rp = sub.add_parser(
        "report",
        help="write the one-page HTML report for finance and delivery",
        description="Leakage, realization and utilization by practice and legal entity, exceptions by "
        "owner, with charts, to <output>/reports/pssync-report-<date>.html.",
    )
    rp.add_argument("--as-of", type=_date, required=True)
    rp.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    rp.add_argument("--output-dir", help="output folder (PSSYNC_OUTPUT_DIR)")
    rp.add_argument("--reporting-currency", help="reporting currency (PSSYNC_REPORTING_CURRENCY)")
    rp.set_defaults(func=cmd_report)

    cp = sub.add_parser(
        "compact",
        help="give the warehouse's free space back to the file system",
        description="DuckDB reuses freed space but never shrinks its file: this copies the warehouse into a new "
        "file, checks every table holds the same rows, and swaps it in. Holds the warehouse like a run.",
    )
    cp.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    cp.add_argument("--wait", action="store_true", help="wait for a run that holds the warehouse instead of leaving")
    cp.set_defaults(func=cmd_compact)

    pl = sub.add_parser(
        "pools",
        help="create the writer pools of every job in the Dagster instance (once, when setting one up)",
        description="Create, in the Dagster instance of $DAGSTER_HOME, the one-slot pool of every table a step "
        "writes (docs/deployment.md). Run it when a production instance is set up and after an upgrade; "
        "safe to run again, and beside running runs. Exit 2 when the instance cannot be opened.",
    )
    pl.set_defaults(func=cmd_pools)

    qy = sub.add_parser(
        "query",
        help="run read-only SQL on the published snapshot (what analysts read)",
        description="SQL on <output>/published/pssync.duckdb: the marts, recon and billing tables of "
        "the last published as-of date, read-only, answered while syncs run. Example: "
        'pssync query "SELECT * FROM marts.unbilled_wip ORDER BY leakage_total DESC LIMIT 10"',
    )
    qy.add_argument("sql", help="one SQL statement")
    qy.add_argument("--snapshot", help="a published snapshot file (default <output>/published/pssync.duckdb)")
    qy.add_argument("--warehouse", help="the warehouse whose outputs folder holds the snapshot (PSSYNC_WAREHOUSE)")
    qy.add_argument("--output-dir", help="output folder (PSSYNC_OUTPUT_DIR)")
    qy.add_argument("--format", choices=["table", "csv", "json"], default="table")
    qy.set_defaults(func=cmd_query)

    bn = sub.add_parser(
        "bench",
        help="run the benchmarks (needs the bench extras: make bench)",
        description="Generator, nightly and hourly syncs at S, M, L against the floor and pandas, and the shared "
        "warehouse against the embedded file at M and L; writes benchmarks/results and docs/benchmarks.md.",
    )
    bn.add_argument("--sizes", default="S,M,L")
    bn.add_argument("--skip-references", action="store_true")
    from benchmarks.run import SHARED_CHOICES

    bn.add_argument(
        "--shared",
        choices=SHARED_CHOICES,
        default="with",
        help="the nightly on the shared warehouse against the embedded file at M and L (needs .venv-shared)",
    )
    bn.set_defaults(func=cmd_bench)

    add_parsers(sub, _with_settings)

    d = sub.add_parser(
        "demo", help="generate a demo estate, run the pipeline, print a summary", description="What `make demo` runs."
    )
    d.add_argument("--dir", default="demo", help="folder for the landing data, warehouse and outputs")
    d.add_argument("--employees", type=int, default=200)
    d.add_argument("--months", type=int, default=12)
    d.add_argument("--seed", type=int, default=42)
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from resources.settings import SettingsError, uninstall

    args = build_parser().parse_args(argv)  # reads no setting: --help works whatever the environment holds
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"pssync {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `pssync ... | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        uninstall()  # a command's settings end with it (the tests run several commands in one process)


if __name__ == "__main__":
    sys.exit(main())
