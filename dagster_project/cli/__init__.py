"""The ``pssync`` command line.

``parser`` declares every subcommand and its options (argparse alone: ``--help`` loads no asset and reads no
setting); ``main`` holds the dispatch table, which names for each subcommand the function that runs it, in a module
imported only when that command runs. One module per command group: ``run`` (run, backfill), ``demo`` (generate,
demo), ``reads`` (exceptions, batches, query, report), ``upkeep`` (compact, pools, bench), ``workbench`` (actions on
the workflow store, users, policy, events, serve)."""

from dagster_project.cli.main import COMMANDS, main
from dagster_project.cli.parser import JOB_NAMES, build_parser

__all__ = ["COMMANDS", "JOB_NAMES", "build_parser", "main"]
