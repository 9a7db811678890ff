"""``pssync generate`` and ``pssync demo``: a synthetic estate with known answers, and what `make demo` shows."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from assets.marts.report import write_report
from assets.ops.exceptions import OPEN_EXCEPTIONS_MEANING, open_exceptions
from dagster_project.cli.common import command_settings
from dagster_project.cli.run import print_run
from dagster_project.runner import run_pipeline
from resources.clock import now_utc
from resources.warehouse import open_warehouse, table_exists
from workbench.store import exception_states, open_store
from workbench.users import ROLES, UserError, add_user

DEMO_PASSWORD = "{role}-demo-2026"  # the demo's own passwords, printed by `make demo`; real users choose theirs
REPOSITORY = Path(__file__).resolve().parents[2]


def generate(argv: list[str]) -> int:
    """Run the estate generator (``python -m estate``) in its own process: the product never imports it."""
    return subprocess.run([sys.executable, "-m", "estate", *argv], check=False).returncode


def cmd_generate(args) -> int:
    argv = ["--out", args.out, "--employees", str(args.employees), "--months", str(args.months)]
    argv += ["--seed", str(args.seed), "--anomaly-rate", str(args.anomaly_rate)]
    argv += ["--end-date", args.end_date.isoformat()] if args.end_date else []
    argv += ["--psa-url", args.psa_url] if args.psa_url else []
    argv += ["--quiet"] if args.quiet else []
    return generate(argv)


def cmd_demo(args) -> int:
    root = Path(args.dir).resolve()
    landing = root / "landing"
    manifest = landing / "_truth" / "manifest.json"
    if not manifest.exists():
        print(f"generating the demo estate ({args.employees} employees x {args.months} months) in {landing} ...")
        argv = ["--out", str(landing), "--employees", str(args.employees), "--months", str(args.months)]
        if generate([*argv, "--seed", str(args.seed)]) != 0:
            print("pssync demo: the estate generator failed (above)", file=sys.stderr)
            return 1
    settings = command_settings(
        args,
        defaults={
            "landing_dir": str(landing),
            "warehouse": str(root / "warehouse.duckdb"),
            "output_dir": str(root / "output"),
        },
    )
    home = Path(os.environ.get("DAGSTER_HOME") or root / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPOSITORY / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    where = dg.DagsterInstance.from_config(str(home))
    as_of = date.fromisoformat(json.loads(manifest.read_text(encoding="utf-8"))["as_of"])
    print(f"nightly_sync for as-of {as_of} (in process) ...")
    result = run_pipeline(as_of, raise_on_error=False, job_name="nightly_sync", on=where)
    print_run(result)
    approved = simulate_new_approvals(landing, as_of)
    next_day = as_of + timedelta(days=1)
    print(f"\n{approved} submitted entries approved the next morning; hourly_sync for as-of {next_day} ...")
    hourly = run_pipeline(next_day, raise_on_error=False, job_name="hourly_sync", on=where)
    print_run(hourly)
    ok = result.success and hourly.success
    print("\nsummary")
    print(f"  landing folder : {landing}")
    print(f"  warehouse      : {settings.warehouse}")
    print(f"  outputs        : {settings.outputs}")
    print("  open the UI    : make dev   (dagster dev over this warehouse, http://127.0.0.1:3000)")
    print_warehouse_summary(settings.warehouse, as_of, settings.reporting_currency)
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
    users = demo_users(settings.workflow)
    key = an_open_exception(settings.workflow)
    if key:
        print(
            f"       PSSYNC_PASSWORD={DEMO_PASSWORD.format(role='finance')} .venv/bin/pssync exceptions ack '{key}' "
            f"--as finance --warehouse {settings.warehouse}   (who acts is proven: --as alone acts for no one)"
        )
    print("  workbench      : .venv/bin/pssync serve --warehouse " + settings.warehouse + "   (http://127.0.0.1:8080)")
    for name, role, password in users:
        print(f"       sign in as {name:<9} password {password:<16} ({role})")
    return 0 if ok else 1


def demo_users(url: str) -> list[tuple[str, str, str]]:
    """One workbench user per role (two in finance: large batches need two approvals), made once."""
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


def an_open_exception(url: str) -> str | None:
    """An open exception of the workflow store, to show acting on one (none if the store is not there)."""
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


def simulate_new_approvals(landing: Path, as_of: date) -> int:
    """The demo's "next morning": managers approve the entries still waiting for approval."""
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


def print_warehouse_summary(path: str, as_of: date, cur: str) -> None:
    """What the demo's runs left: rows per source, reconciliation status, WIP, batches, open exceptions."""
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
            """SELECT count(*), sum(line_count), currency, sum(net_amount) FROM billing.batches
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
