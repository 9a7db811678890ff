"""Where the benchmarks keep their results, the estate sizes they measure and the order of a sync's stages."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SIZES = {"S": (200, 12), "M": (2000, 24), "L": (20000, 24)}
STAGE_ORDER = ["extract", "canonical", "contracts", "recon", "billing", "marts", "checks"]
