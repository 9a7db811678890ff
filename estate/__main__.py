"""``python -m estate``: what `pssync generate` runs (the generator stays beside the product, never imported by it)."""

import argparse
import sys
import time
from pathlib import Path

from dagster_project.cli.parser import generate_options
from estate import EstateConfig, generate_estate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pssync generate", description=__doc__)
    generate_options(parser)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    manifest = generate_estate(
        EstateConfig(
            out=Path(args.out),
            employees=args.employees,
            months=args.months,
            seed=args.seed,
            end_date=args.end_date,
            anomaly_rate=args.anomaly_rate,
            psa_url=args.psa_url,
            progress=not args.quiet,
        )
    )
    est = manifest["estate"]
    print(
        f"estate written to {args.out} in {time.perf_counter() - t0:.1f}s: {est['employees']} employees, "
        f"{est['start_date']}..{est['end_date']}, {est['time_entries']:,} time entries, "
        f"{est['invoices']:,} invoices; ground truth in {args.out}/_truth/manifest.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
