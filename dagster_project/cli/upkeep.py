"""An operator's upkeep: give the warehouse's free space back, create the production instance's writer pools, run
the benchmarks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from dagster_project.cli.common import warehouse_path
from dagster_project.lock import WarehouseBusy, warehouse_lock
from dagster_project.pools import create_pools, limits_pools, pools_message
from dagster_project.preflight import open_dagster_instance
from resources.compaction import CompactionError, compact, compact_lake
from resources.warehouse import WarehouseError, is_shared


def cmd_compact(args) -> int:
    """Give the warehouse's free space back to the file system (docs/operations.md, Storage)."""
    where = warehouse_path(args)
    if is_shared(where):
        try:
            before, after = compact_lake(where)
        except WarehouseError as exc:
            print(f"pssync compact: {exc}", file=sys.stderr)
            return 2
        print(f"shared warehouse data files: {before / 2**20:,.1f} MiB -> {after / 2**20:,.1f} MiB")
        return 0
    path = Path(where)
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
    instance, why = open_dagster_instance()
    if instance is None:
        print(f"pssync pools: {why or 'DAGSTER_HOME is not set: it names the Dagster instance'}", file=sys.stderr)
        return 2
    from dagster_project.definitions import build_definitions  # every asset: loaded once the instance opened

    try:
        if not limits_pools(instance):
            print("this instance limits no pools (the embedded one runs one run at a time): nothing to create")
            return 0
        print(pools_message(create_pools(instance, *build_definitions().get_repository_def().get_all_jobs())))
        return 0
    finally:
        instance.dispose()


def cmd_bench(args) -> int:
    """``pssync bench``: the benchmarks (``python -m benchmarks.run``, beside the product), when the bench extras
    are installed."""
    missing = [m for m in ("matplotlib", "datacompy") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"pssync bench needs the bench extras ({', '.join(missing)} missing): run `make bench`, or "
            "`.venv/bin/pip install -e '.[bench]'`",
            file=sys.stderr,
        )
        return 2
    argv = ["--sizes", args.sizes, "--shared", args.shared] + (["--skip-references"] if args.skip_references else [])
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-m", "benchmarks.run", *argv], cwd=root, check=False).returncode
