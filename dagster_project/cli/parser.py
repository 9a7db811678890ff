"""Every subcommand of ``pssync`` and its options. Argparse alone: building the parser loads no asset and reads no
setting, so ``--help`` works whatever the environment holds."""

from __future__ import annotations

import argparse
import re
from datetime import date

from workbench.batch_states import STATES

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

USER_ACTIONS = ("add", "token", "list", "tokens", "role", "password", "disable", "enable", "revoke")
FORMATS = ("table", "csv", "json")
BENCH_SHARED = ("with", "only", "without")  # --shared: the comparison with the other stages, alone, or left out


def parse_date(text: str) -> date:
    """A date as the docs write it, YYYY-MM-DD (Python alone would also take 20260930 or 2026-W40-3)."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def settings_options(p: argparse.ArgumentParser) -> None:
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


def run_options(p: argparse.ArgumentParser) -> None:
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
    settings_options(p)


def store_options(p: argparse.ArgumentParser) -> None:
    """Where the workflow store is: named, or the default beside the warehouse."""
    p.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    p.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE); the default store is beside it")


def generate_options(g: argparse.ArgumentParser) -> None:
    """The options of `pssync generate` (and of `python -m estate`, which it runs)."""
    g.add_argument("--out", required=True, help="landing folder to write")
    g.add_argument("--employees", type=int, default=200)
    g.add_argument("--months", type=int, default=12)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--end-date", type=parse_date, default=None, help="last day of the estate (default 2026-09-30)")
    g.add_argument("--psa-url", default=None, help="write the PSA to this SQLAlchemy URL instead of DIR/psa/psa.db")
    g.add_argument("--anomaly-rate", type=float, default=0.01, help="share of time entries with an injected defect")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def add_estate_commands(sub) -> None:
    generate_options(
        sub.add_parser(
            "generate",
            help="write a synthetic services-firm estate with known answers",
            description="Write every source of the source formats (docs/extract.md), with injected anomalies and a "
            "ground-truth manifest under DIR/_truth/.",
        )
    )

    d = sub.add_parser(
        "demo", help="generate a demo estate, run the pipeline, print a summary", description="What `make demo` runs."
    )
    d.add_argument("--dir", default="demo", help="folder for the landing data, warehouse and outputs")
    d.add_argument("--employees", type=int, default=200)
    d.add_argument("--months", type=int, default=12)
    d.add_argument("--seed", type=int, default=42)


def add_run_commands(sub) -> None:
    r = sub.add_parser(
        "run",
        help="materialize the pipeline in process for an as-of date",
        description="Materialize every asset (or --select) in process for --as-of. The last line is "
        "the verdict. Exit codes: 0 success; 3 success with billing held by a faulty input "
        "(recon.billing_holds); 1 a step or check failed; 2 a setting is wrong (checked "
        "before any step, one line each); 75 another run holds the "
        "warehouse; 130 interrupted (SIGTERM, Ctrl-C).",
    )
    r.add_argument("--as-of", type=parse_date, default=None, help="business date of the run (default: yesterday, UTC)")
    run_options(r)

    bf = sub.add_parser(
        "backfill",
        help="settle a range of as-of dates in date order, one run per date",
        description="Run --job for every date from --from to --to, in date order (a date bills what earlier dates "
        "left). One verdict line per date, then one for the backfill. A failed date stops it there, naming "
        "the command that goes on. Exit codes as `pssync run`'s, of the date that stopped it (else 3 when a "
        "date's billing was held, else 0). Each date's run is tagged pssync/backfill in the Dagster UI.",
    )
    bf.add_argument("--from", dest="date_from", type=parse_date, required=True, help="first as-of date")
    bf.add_argument("--to", dest="date_to", type=parse_date, required=True, help="last as-of date (included)")
    run_options(bf)


def add_read_commands(sub) -> None:
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
    e.add_argument("--as-of", type=parse_date, help="list: a reconciled as-of date")
    e.add_argument("--owner", choices=["finance", "delivery", "hr", "integration"], help="only this owner's exceptions")
    e.add_argument("--format", choices=FORMATS, default="table")
    e.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")

    b = sub.add_parser(
        "batches",
        help="list the billing batches of an as-of date (or one batch's lines); release or reject one",
        description="Batch headers (lines, net, tax, gross) of an as-of date; --batch shows its lines. "
        "release|reject BATCH --as NAME: a finance user's decision in the workflow store (docs/billing.md); "
        "status [BATCH]: the decisions.",
    )
    b.add_argument("action", nargs="?", choices=["release", "reject", "status"])
    b.add_argument("key", nargs="?", help="release / reject / status: the batch id")
    b.add_argument(
        "--as", dest="actor", help="release / reject: the finance person who decides (PSSYNC_PASSWORD or PSSYNC_TOKEN)"
    )
    b.add_argument("--reason", help="reject: why (required); release: a note")
    b.add_argument("--state", choices=STATES, help="status: only batches in this state")
    b.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    b.add_argument("--as-of", type=parse_date, help="list: an as-of date")
    b.add_argument("--batch", help="a batch id: list its lines instead")
    b.add_argument("--format", choices=FORMATS, default="table")
    b.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")

    rp = sub.add_parser(
        "report",
        help="write the one-page HTML report for finance and delivery",
        description="Leakage, realization and utilization by practice and legal entity, exceptions by "
        "owner, with charts, to <output>/reports/pssync-report-<date>.html.",
    )
    rp.add_argument("--as-of", type=parse_date, required=True)
    rp.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    rp.add_argument("--output-dir", help="output folder (PSSYNC_OUTPUT_DIR)")
    rp.add_argument("--reporting-currency", help="reporting currency (PSSYNC_REPORTING_CURRENCY)")

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
    qy.add_argument("--format", choices=FORMATS, default="table")


def add_upkeep_commands(sub) -> None:
    cp = sub.add_parser(
        "compact",
        help="give the warehouse's free space back to the file system",
        description="DuckDB reuses freed space but never shrinks its file: this copies the warehouse into a new "
        "file, checks every table holds the same rows, and swaps it in. Holds the warehouse like a run.",
    )
    cp.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    cp.add_argument("--wait", action="store_true", help="wait for a run that holds the warehouse instead of leaving")

    sub.add_parser(
        "pools",
        help="create the writer pools of every job in the Dagster instance (once, when setting one up)",
        description="Create, in the Dagster instance of $DAGSTER_HOME, the one-slot pool of every table a step "
        "writes (docs/deployment.md). Run it when a production instance is set up and after an upgrade; "
        "safe to run again, and beside running runs. Exit 2 when the instance cannot be opened.",
    )

    bn = sub.add_parser(
        "bench",
        help="run the benchmarks (needs the bench extras: make bench)",
        description="Generator, nightly and hourly syncs at S, M, L against the floor and pandas, and the shared "
        "warehouse against the embedded file at M and L; writes benchmarks/results and docs/benchmarks.md.",
    )
    bn.add_argument("--sizes", default="S,M,L")
    bn.add_argument("--skip-references", action="store_true")
    bn.add_argument(
        "--shared",
        choices=BENCH_SHARED,
        default="with",
        help="the nightly on the shared warehouse against the embedded file at M and L (needs .venv-shared)",
    )


def add_workbench_commands(sub) -> None:
    u = sub.add_parser(
        "users",
        help="workbench users, service accounts and API tokens (an admin's work)",
        description="add NAME --role ROLE: a person (password from PSSYNC_NEW_PASSWORD, else asked for) or, with "
        "--service, a service account that calls the API with tokens only; a name that exists is refused. "
        "token NAME [--days N]: a new API token (shown once, 90 days by default). list; tokens NAME|all; "
        "role NAME --role R; password NAME; disable NAME; enable NAME; revoke NAME|TOKEN_ID. Each is done by an "
        "admin proven as for any action (--as NAME with PSSYNC_PASSWORD, or PSSYNC_TOKEN); the first admin of a "
        "new store is added without one. A change of role or password, or a disablement, ends the user's sessions "
        "and voids their tokens.",
    )
    u.add_argument("action", choices=USER_ACTIONS)
    u.add_argument("name", nargs="?", default="all")
    u.add_argument("--role", choices=["finance", "delivery", "hr", "analyst", "admin"])
    u.add_argument("--service", action="store_true", help="a service account (no password)")
    u.add_argument("--days", type=int, default=90, help="token: days until it expires (1-366)")
    u.add_argument("--as", dest="actor", help="the admin who acts (proven by PSSYNC_PASSWORD or PSSYNC_TOKEN)")
    store_options(u)

    po = sub.add_parser(
        "policy",
        help="the approval policy in the workflow store: show, or set as an admin",
        description="show: every policy. set NAME VALUE --as ADMIN: dual_approval_above (the gross above which two "
        "finance people release a batch), dual_approval_above.<ENTITY> (one legal entity's), waiver_limit.<role> "
        "(the largest amount at risk a role waives). Each change is audited and sent as a policy.changed event; "
        "no environment variable of a deciding process changes them.",
    )
    po.add_argument("action", choices=["show", "set"])
    po.add_argument("name", nargs="?")
    po.add_argument("value", nargs="?")
    po.add_argument("--remove", action="store_true", help="set: drop an override or limit")
    po.add_argument("--as", dest="actor", help="the admin who acts (proven by PSSYNC_PASSWORD or PSSYNC_TOKEN)")
    store_options(po)

    ev = sub.add_parser(
        "events",
        help="deliver business events now, retry dead-lettered ones, or list the newest",
        description="The outbox of business events (docs/workbench.md): deliver sends what is due to "
        "PSSYNC_WEBHOOK_URLS and PSSYNC_NATS_URL; retry puts dead-lettered deliveries back; list shows the newest.",
    )
    ev.add_argument("action", choices=["deliver", "retry", "list"])
    ev.add_argument("--limit", type=int, default=20)
    ev.add_argument(
        "--deadline", type=float, default=300, help="deliver: seconds the round may take; what is left waits"
    )
    store_options(ev)

    s = sub.add_parser(
        "serve",
        help="the web workbench (exceptions, batches, dashboard, /api/v1)",
        description="Server-rendered pages and a JSON API for finance, delivery, hr and analysts; sign in with a "
        "user made by `pssync users add` (make demo makes one per role). Sessions are signed with "
        "PSSYNC_WEB_SECRET.",
    )
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    s.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    s.add_argument("--output-dir", help="where the published snapshot is (PSSYNC_OUTPUT_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pssync", description="Keep time, billing and planning in step across CRM, PSA, HR, ERP and payroll."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_estate_commands, add_run_commands, add_read_commands, add_upkeep_commands, add_workbench_commands):
        add(sub)
    return parser
