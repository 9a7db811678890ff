"""Headless Chromium (Debian's package) for tests that look at a page as a person would."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); the page tests need a real browser")
    return path


def _run(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=timeout
        )


def screenshot(url: str, png: Path, width: int = 1280, height: int = 1600, wait_ms: int = 0) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    extra = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    _run([*extra, f"--window-size={width},{height}", f"--screenshot={png}", url])
    assert png.exists(), f"chromium wrote no screenshot of {url}"
    return png


def dom(url: str, wait_ms: int = 0) -> str:
    extra = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    return _run([*extra, "--dump-dom", url]).stdout


def not_blank(png: Path) -> float:
    """Share of pixels that differ from the most common colour (0 for a blank page)."""
    from PIL import Image

    img = Image.open(png).convert("RGB")
    colours = img.getcolors(maxcolors=img.width * img.height)
    most = max(colours)[0]
    return 1 - most / (img.width * img.height)
