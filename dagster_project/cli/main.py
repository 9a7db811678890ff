"""The dispatch table of ``pssync`` and its entry point."""

from __future__ import annotations

import importlib
import os
import sys

from dagster_project.cli.parser import build_parser

COMMANDS = {
    "generate": "demo:cmd_generate",
    "demo": "demo:cmd_demo",
    "run": "run:cmd_run",
    "backfill": "run:cmd_backfill",
    "exceptions": "reads:cmd_exceptions",
    "batches": "reads:cmd_batches",
    "query": "reads:cmd_query",
    "report": "reads:cmd_report",
    "compact": "upkeep:cmd_compact",
    "pools": "upkeep:cmd_pools",
    "bench": "upkeep:cmd_bench",
    "users": "workbench:cmd_users",
    "policy": "workbench:cmd_policy",
    "events": "workbench:cmd_events",
    "serve": "serve:cmd_serve",
}
"""Each subcommand's function, as ``module:function`` under ``dagster_project.cli``: the module is imported when its
command runs, so that ``pssync query`` does not load Dagster and ``--help`` loads nothing."""


def command(name: str):
    """The function that runs the subcommand ``name``."""
    module, func = COMMANDS[name].split(":")
    return getattr(importlib.import_module(f"dagster_project.cli.{module}"), func)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # reads no setting: --help works whatever the environment holds
    # imported after parsing: the settings bring Dagster (a second of start-up that `--help` does without)
    from dagster_project.lock import WarehouseBusy
    from resources.settings import SettingsError, uninstall

    try:
        return command(args.command)(args)
    except SettingsError as exc:
        print(f"pssync {args.command}: {exc}", file=sys.stderr)
        return 2
    except WarehouseBusy as exc:  # a read while a run writes: who holds the warehouse, what to do instead
        print(f"pssync {args.command}: {exc}", file=sys.stderr)
        return 75
    except BrokenPipeError:  # `pssync ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        uninstall()  # a command's settings end with it (the tests run several commands in one process)
