"""What people read from the command line: open exceptions, billing batches, the analysts' SQL on the published
snapshot, and the HTML report. While a run writes the warehouse, ``exceptions``, ``batches`` and ``report`` say so
in one line (exit 75); ``query`` reads the snapshot and answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from assets.marts.report import write_report
from assets.ops.exceptions import OPEN_EXCEPTIONS_MEANING, open_exceptions
from dagster_project.cli.common import command_settings, emit, read_warehouse, warehouse_path
from dagster_project.lock import refused_while_written
from resources.outputs import snapshot_path
from resources.settings import current
from resources.warehouse import read_frame, table_exists


def cmd_exceptions(args) -> int:
    """``pssync exceptions --as-of DATE``: the open exceptions of a reconciled date; with an action, that action."""
    if args.action:
        from dagster_project.cli.workbench import cmd_exception_action  # the workflow store's modules: only to act

        return cmd_exception_action(args)
    if args.as_of is None:
        print("pssync exceptions: --as-of is required to list exceptions", file=sys.stderr)
        return 2
    con = read_warehouse(args)
    try:
        reconciled = (
            table_exists(con, "recon.time_to_bill")
            and con.execute("SELECT count(*) FROM recon.time_to_bill WHERE as_of_date = ?", [args.as_of]).fetchall()[0][
                0
            ]
        )
        if not reconciled:
            print(
                f"no reconciliation for as-of {args.as_of}: run `pssync run --as-of {args.as_of}` first",
                file=sys.stderr,
            )
            return 2
        frame = open_exceptions(con, args.as_of)
    finally:
        con.close()
    if args.owner:
        frame = frame.filter(pl.col("owner") == args.owner)
    emit(frame, args.format)
    if args.format == "table":
        print(
            f"{frame.height} open exception(s) as of {args.as_of}"
            + (f" for {args.owner}" if args.owner else "")
            + f" ({OPEN_EXCEPTIONS_MEANING})"
        )
    return 0


def cmd_batches(args) -> int:
    """``pssync batches --as-of DATE`` (or ``--batch ID``): batch headers or one batch's lines; with an action,
    a decision in the workflow store."""
    if args.action:
        from dagster_project.cli.workbench import cmd_batch_decision  # the workflow store's modules: only to act

        return cmd_batch_decision(args)
    if not args.as_of:
        print("pssync batches: --as-of is required to list batches", file=sys.stderr)
        return 2
    con = read_warehouse(args)
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
    emit(frame, args.format)
    if args.format == "table" and not args.batch:
        print(f"{frame.height} batch(es) as of {args.as_of}")
    return 0


# the analysts' SQL reads the snapshot and nothing else: no file, extension, ATTACH, COPY or setting (DuckDB's own
# switches, locked so that no statement can turn them back on); docs/workbench.md, Security
QUERY_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "lock_configuration": True,
}


def cmd_query(args) -> int:
    """Analysts' SQL on the published snapshot (read-only: it answers while syncs write the warehouse)."""
    path = Path(args.snapshot) if args.snapshot else snapshot_path(command_settings(args).outputs)
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
        frame = as_frame(relation) if relation is not None else None  # a statement that returns no rows
    except duckdb.Error as exc:
        print(f"pssync query: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        con.close()
    if frame is not None:
        emit(frame, args.format)
    return 0


def as_frame(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """A query's rows as a frame; the types polars cannot take (INTERVAL: a duration such as ops.sync_runs') as
    DuckDB's own text for them."""
    if any(str(t) == "INTERVAL" for t in relation.types):
        shown = [
            f'CAST("{c}" AS VARCHAR) AS "{c}"' if str(t) == "INTERVAL" else f'"{c}"'
            for c, t in zip(relation.columns, relation.types)
        ]
        relation = relation.project(", ".join(shown))
    return relation.pl()


def cmd_report(args) -> int:
    """``pssync report --as-of DATE``: the one-page HTML report for finance and delivery."""
    path = warehouse_path(args)
    settings = current()  # installed by warehouse_path: the command's settings, read once
    out = Path(settings.outputs) / "reports" / f"pssync-report-{args.as_of}.html"
    with refused_while_written(path):
        write_report(path, args.as_of, settings.reporting_currency, out)
    print(f"report written to {out}")
    return 0
