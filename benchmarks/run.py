"""`make bench`: generator, nightly and hourly syncs at S, M and L, against the bare-SQL floor and pandas.

Each stage runs in its own process (peak RSS is per stage). Results go to benchmarks/results/<size>.json;
docs/benchmarks.md and docs/benchmarks-stages.png are rendered from every result file present.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.render import render
from benchmarks.sizes import RESULTS, ROOT, SIZES
from dagster_project.cli.parser import BENCH_SHARED


def stage(name: str, root: Path, *args, python: Path | str = sys.executable, env: dict | None = None) -> dict:
    os.sync()  # the previous stage's gigabytes of dirty pages are written back before, not during, this one
    out = subprocess.run(
        [str(python), "-m", "benchmarks.stage", name, str(root), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark stage {name} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


GENERATOR_RUNS = 3


def _median_run(runs: list[dict]) -> dict:
    """The run of median wall time, with every run's wall time and peak RSS beside it. An actual run, so that its
    stages stay its own: of an even number, the slower of the two middle runs (of two, the slower: the figure errs
    on the side of the claim it could weaken)."""
    median = sorted(runs, key=lambda r: r["wall_seconds"])[len(runs) // 2]
    return {
        **median,
        "runs_wall_seconds": [r["wall_seconds"] for r in runs],
        "runs_peak_rss_mb": [r["peak_rss_mb"] for r in runs],
    }


SHARED_PYTHON = ROOT / ".venv-shared" / "bin" / "python"  # DuckDB 1.5 with DuckLake: `make .venv-shared/.installed`
SHARED_RUNS = {"M": 2, "L": 1}  # the sizes compared on the shared warehouse, and the runs of each mode there
SHARED_MEMORY = {"L": "8GB"}  # DuckDB 1.5 cannot run the L reconciliation under the default 4 GB (docs/deployment.md)


def shared_comparison(size: str, landing: Path, as_of: str, workdir: Path, python: Path = SHARED_PYTHON) -> dict:
    """The nightly from empty on the shared warehouse (DuckLake, catalog in PostgreSQL) against the embedded file,
    both on the shared venv's DuckDB and in process, the modes alternated, each run on a fresh warehouse over the
    same estate (``landing``, which neither writes). The median run of each mode, with every run's figures."""
    if not Path(python).exists():
        return {"skipped": f"no {python}: `make .venv-shared/.installed` first"}
    version = subprocess.run(
        [str(python), "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    env = {"PSSYNC_DUCKDB_MEMORY_LIMIT": SHARED_MEMORY[size]} if size in SHARED_MEMORY else {}
    runs: dict[str, list[dict]] = {"embedded_nightly": [], "shared_nightly": []}
    for _ in range(SHARED_RUNS.get(size, 1)):
        for key, name in (("embedded_nightly", "nightly"), ("shared_nightly", "shared_nightly")):
            root = workdir / f"{size}-{key}"
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            (root / "landing").symlink_to(landing.resolve(), target_is_directory=True)
            try:
                runs[key].append(stage(name, root, as_of, python=python, env=env))
            except RuntimeError as exc:
                return {"error": str(exc).splitlines()[0][:300], "duckdb": version}
            finally:
                shutil.rmtree(root, ignore_errors=True)
    when = datetime.now(UTC).isoformat()
    memory = {"duckdb_memory_limit": env.get("PSSYNC_DUCKDB_MEMORY_LIMIT", "4GB (default)")}
    return {k: {**_median_run(v), "duckdb": version, "measured_at": when, **memory} for k, v in runs.items()}


OPERATION_SIZES = ("M", "L")  # the month of operation runs at these sizes (L: about 70 minutes on this machine)


def run_size(
    size: str,
    workdir: Path,
    skip_refs: bool,
    generator_only: bool = False,
    operation_days: int = 30,
    shared: str = "with",
) -> dict:
    """Every stage of one size; the result file is rewritten after each stage, and a stage that fails
    (a process killed for memory, say) is recorded as such instead of losing the others. With
    ``generator_only`` the generator is measured again and the stored sync stages are kept (they do not
    depend on how fast the estate was written, only on the estate, which is the same byte for byte); with ``shared``
    "only", the comparison on the shared warehouse is measured again and every other stage kept, with "without" it
    is left out (its stored figures kept)."""
    employees, months = SIZES[size]
    root = workdir / size
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat()
    stored = RESULTS / f"{size}.json"
    previous = json.loads(stored.read_text()) if stored.exists() else {}
    if previous and (generator_only or shared == "only"):
        result = previous
    else:
        result = {"size": size, "employees": employees, "months": months, "measured_at": now}
        if shared == "without" and "shared" in previous:
            result["shared"] = previous["shared"]

    def record(key: str, name: str, *args, keep: bool = True) -> dict:
        """Run a stage; with ``keep``, its figures replace the stored ones."""
        print(f"[{size}] {key}", flush=True)
        try:
            out = {**stage(name, root, *args), "measured_at": datetime.now(UTC).isoformat()}
        except RuntimeError as exc:
            out = {"error": str(exc).splitlines()[0][:300]}
        if keep:
            result[key] = out
            stored.write_text(json.dumps(result, indent=1) + "\n")
        return out

    runs = []
    for _ in range(1 if shared == "only" else GENERATOR_RUNS):  # this VM's throughput varies by 10-20 % from run
        # to run: the generator's figure is the median of three
        shutil.rmtree(root / "landing", ignore_errors=True)
        runs.append(record("generate", "generate", employees, months, keep=shared != "only"))
        if "error" in runs[-1]:
            break
    gen = runs[-1]
    if "error" not in gen and shared != "only":
        gen = result["generate"] = _median_run(runs)
        stored.write_text(json.dumps(result, indent=1) + "\n")
    if "error" not in gen and shared != "without" and size in SHARED_RUNS:
        print(f"[{size}] shared", flush=True)
        result["shared"] = shared_comparison(size, root / "landing", gen["as_of"], workdir)
        stored.write_text(json.dumps(result, indent=1) + "\n")
    if "error" in gen or generator_only or shared == "only":
        shutil.rmtree(root)
        return result
    record("nightly", "nightly", gen["as_of"])
    if not skip_refs:
        record("floor", "floor", gen["as_of"])
        record("pandas", "pandas", gen["as_of"])
        record("datacompy", "datacompy", gen["as_of"])
    hourly = record("hourly", "hourly", gen["as_of"])
    if operation_days and size in OPERATION_SIZES and "error" not in hourly:
        start = (datetime.fromisoformat(gen["as_of"]) + timedelta(days=1)).date().isoformat()
        record("operation", "operation", start, operation_days)
    shutil.rmtree(root)
    return result


def main() -> int:
    p = argparse.ArgumentParser(prog="pssync bench", description=__doc__)
    p.add_argument("--sizes", default="S,M,L", help="comma-separated subset of S, M, L")
    p.add_argument("--skip-references", action="store_true", help="no floor / pandas / datacompy runs")
    p.add_argument("--render-only", action="store_true", help="re-render docs/benchmarks.md from stored results")
    p.add_argument(
        "--generator-only", action="store_true", help="measure the generator again, keep the stored sync stages"
    )
    p.add_argument(
        "--operation-days",
        type=int,
        default=30,
        help=f"days of the operation scenario at {', '.join(OPERATION_SIZES)} (0: none)",
    )
    p.add_argument(
        "--shared",
        choices=BENCH_SHARED,
        default="with",
        help=f"the nightly on the shared warehouse against the embedded file at {', '.join(SHARED_RUNS)}: with the "
        "other stages (default), only it (the other stored stages kept), or without it",
    )
    args = p.parse_args()
    if not args.render_only:
        with tempfile.TemporaryDirectory(prefix="pssync-bench-") as tmp:
            for size in args.sizes.split(","):
                run_size(
                    size.strip(),
                    Path(tmp),
                    args.skip_references,
                    args.generator_only,
                    args.operation_days,
                    args.shared,
                )
    render()
    print(f"wrote {ROOT / 'docs' / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
