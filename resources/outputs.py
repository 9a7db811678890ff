"""Where pssync writes files for people and systems: batch files, reports, Data Docs."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

# the published snapshots under <output>/published: what analysts query, and what is computed from HR cost rates
# (finance, hr and admin read it through the workbench)
ANALYST_SNAPSHOT = "pssync.duckdb"
RESTRICTED_SNAPSHOT = "restricted.duckdb"


def snapshot_path(outputs: str, restricted: bool = False) -> Path:
    """Where the analysts' snapshot (or, ``restricted``, the one of what cost rates give) is published."""
    return Path(outputs) / "published" / (RESTRICTED_SNAPSHOT if restricted else ANALYST_SNAPSHOT)


# the published catalog: the tables the snapshots carry (assets/marts/publish.py writes them; resources/fingerprint.py
# digests them)
PUBLISHED = [
    ("marts", t)
    for t in (
        "utilization_weekly",
        "realization_monthly",
        "project_margin",
        "unbilled_wip",
        "invoice_cycle",
        "backlog",
        "staffing_forecast",
    )
] + [
    ("recon", "time_to_bill"),
    ("recon", "billing_line_exceptions"),
    ("recon", "contractor_hours"),
    ("recon", "billing_holds"),
    ("billing", "batches"),
    ("billing", "batch_lines"),
]
# computed from HR cost rates: never in the analysts' snapshot (docs/workbench.md, Security)
RESTRICTED = {("marts", "project_margin")}


def write_atomically(path: Path, data: bytes, durable: bool = True) -> None:
    """Complete or absent, never partial: write a temporary file beside it, then rename. ``durable`` also waits
    for the disk (fsync) before the rename; the estate generator, writing a whole new folder, does not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


class OutputFolder(dg.ConfigurableResource):
    """The output folder (``PSSYNC_OUTPUT_DIR``)."""

    path: str

    def file(self, *parts: str) -> Path:
        return Path(self.path).joinpath(*parts)
