"""Where pssync writes files for people and systems: batch files, reports, Data Docs."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg


# the published snapshots under <output>/published: what analysts query, and what is computed from HR cost rates
# (finance, hr and admin read it through the workbench)
ANALYST_SNAPSHOT = "pssync.duckdb"
RESTRICTED_SNAPSHOT = "restricted.duckdb"


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
