"""The Dagster UI over a materialized estate, in headless Chromium: groups and lineage are on the page."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import chromium, dom, not_blank, screenshot
from tests.conftest import manifest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
GROUPS = ["extract", "canonical", "recon", "billing", "marts"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


@pytest.fixture
def webserver(small_estate, tmp_path, monkeypatch):
    import dagster as dg

    from dagster_project.runner import run_pipeline

    chromium()  # skip early (or fail under CI) without a browser
    m = manifest(small_estate)
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    # the nightly job as `make demo` runs it: recorded in the instance the UI reads
    for var, value in (("PSSYNC_LANDING_DIR", small_estate), ("PSSYNC_WAREHOUSE", wh), ("PSSYNC_OUTPUT_DIR", out)):
        monkeypatch.setenv(var, str(value))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        from datetime import date

        assert run_pipeline(date.fromisoformat(m["as_of"]), job_name="nightly_sync", on=instance).success
        recorded = instance.get_runs()[0].tags  # the settings the run used, shown on the run in the UI
        assert recorded["pssync/warehouse"] == str(wh) and recorded["pssync/output_dir"] == str(out)
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PSSYNC_LANDING_DIR": str(small_estate),
        "PSSYNC_WAREHOUSE": str(wh),
        "PSSYNC_OUTPUT_DIR": str(out),
    }
    exe = Path(sys.executable).parent / "dagster-webserver"
    proc = subprocess.Popen(
        [str(exe), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not come up on loopback within 120 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def test_asset_graph_shows_groups_and_lineage_from_source_to_mart(webserver):
    port = webserver
    nodes = graphql(port, "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }")["data"][
        "assetNodes"
    ]
    groups = {n["groupName"] for n in nodes}
    assert set(GROUPS) <= groups
    upstream = {"/".join(n["assetKey"]["path"]): ["/".join(d["path"]) for d in n["dependencyKeys"]] for n in nodes}
    # walk the lineage back from a mart to a source
    seen, frontier = set(), ["marts/utilization_weekly"]
    while frontier:
        key = frontier.pop()
        if key not in seen:
            seen.add(key)
            frontier.extend(upstream.get(key, []))
    assert {"raw/psa_time_entries", "canonical/time_entry", "raw/hr_workers"} <= seen
    assert {"recon/time_to_bill", "canonical/time_entry", "raw/psa_time_entries"} <= _ancestors(
        upstream, "billing/batch_lines"
    )

    # the published tables show their columns, with their meaning, before anything is materialized
    schemas = graphql(
        port,
        """{ assetNodes { assetKey { path } metadataEntries { label __typename
        ... on TableSchemaMetadataEntry { schema { columns { name description } } } } } }""",
    )["data"]["assetNodes"]
    columns = {
        "/".join(n["assetKey"]["path"]): {
            c["name"]: c["description"]
            for e in n["metadataEntries"]
            if e["__typename"] == "TableSchemaMetadataEntry"
            for c in e["schema"]["columns"]
        }
        for n in schemas
    }
    assert "recon_status" in columns["recon/time_to_bill"] and columns["recon/time_to_bill"]["billing_hold"]
    assert "gross_amount" in columns["billing/batches"] and "idempotency_key" in columns["billing/batch_lines"]

    # the nightly's runs show with their jobs on the Overview timeline (they belong to the code location), newest
    # first: the date's, its entities' billing, the firm view
    runs = graphql(
        port,
        "{ runsOrError { ... on Runs { results { jobName status repositoryOrigin { repositoryLocationName } } } } }",
    )["data"]["runsOrError"]["results"]
    assert [(r["jobName"], r["status"], r["repositoryOrigin"]["repositoryLocationName"]) for r in runs] == [
        ("firm_view", "SUCCESS", "pssync"),
        ("entity_settle", "SUCCESS", "pssync"),
        ("nightly_sync", "SUCCESS", "pssync"),
    ]
    overview = f"http://127.0.0.1:{port}/overview/activity/timeline"
    screenshot(overview, ARTIFACTS / "overview.png", width=1400, height=900, wait_ms=15000)
    page = dom(overview, wait_ms=15000)
    assert "nightly_sync" in page and "Join the Dagster community" not in page

    url = f"http://127.0.0.1:{port}/asset-groups"
    png = screenshot(url, ARTIFACTS / "asset-graph.png", width=1600, height=1000, wait_ms=20000)
    assert not_blank(png) > 0.02
    page = dom(url, wait_ms=20000)
    for group in GROUPS:
        assert f">{group}<" in page, f"group {group} not on the global asset graph page"
    # the lineage of a mart, drawn by the UI, reaches back to the PSA source
    lineage = (
        f"http://127.0.0.1:{port}/assets/marts/utilization_weekly?view=lineage&lineageScope=upstream&lineageDepth=6"
    )
    screenshot(lineage, ARTIFACTS / "mart-lineage.png", width=1600, height=1000, wait_ms=20000)
    page = dom(lineage, wait_ms=20000)
    for name in ("utilization_weekly", "time_entry", "psa_time_entries", "hr_workers"):
        assert name in page, f"{name} not in the lineage of marts/utilization_weekly"


def _ancestors(upstream: dict, key: str) -> set:
    seen, frontier = set(), [key]
    while frontier:
        k = frontier.pop()
        if k not in seen:
            seen.add(k)
            frontier.extend(upstream.get(k, []))
    return seen
