"""The landing folder: CRM pages, HR drops, ERP exports and payroll files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_stat(path: Path) -> str:
    """What changes whenever a file's bytes do: size, modification and change times (ns), inode."""
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


class LandingFolder(dg.ConfigurableResource):
    """Where the source systems drop their files (``PSSYNC_LANDING_DIR``)."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)

    def files(self, pattern: str) -> list[Path]:
        """Files matching a glob below the landing folder, in name order (names carry the dates)."""
        return sorted(p for p in self.root.glob(pattern) if p.is_file() and not p.name.endswith(".tmp"))

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()
