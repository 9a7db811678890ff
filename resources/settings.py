"""Environment variables of pssync and their defaults for the embedded setup."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULTS = {
    "PSSYNC_LANDING_DIR": "demo/landing",
    "PSSYNC_WAREHOUSE": "demo/warehouse.duckdb",
    "PSSYNC_OUTPUT_DIR": "demo/output",
    "PSSYNC_REPORTING_CURRENCY": "USD",
    "PSSYNC_STAFFING_THRESHOLD": "50",
    "PSSYNC_PSA_URL": "",
    "PSSYNC_ERP_STAGING_URL": "",
}


def setting(name: str) -> str:
    """A setting's value: its environment variable, else the embedded default. Outputs default to the folder
    ``output`` beside the warehouse, so a warehouse elsewhere keeps its files with it."""
    if name == "PSSYNC_OUTPUT_DIR" and not os.environ.get(name) and os.environ.get("PSSYNC_WAREHOUSE"):
        return str(Path(os.environ["PSSYNC_WAREHOUSE"]).parent / "output")
    return os.environ.get(name) or DEFAULTS[name]


def default_psa_url(landing: str | Path) -> str:
    """``sqlite:///<landing>/psa/psa.db`` unless PSSYNC_PSA_URL names another database."""
    return os.environ.get("PSSYNC_PSA_URL") or f"sqlite:///{Path(landing).resolve() / 'psa' / 'psa.db'}"
