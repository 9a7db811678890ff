"""The HTML report renders in headless Chromium, is not blank, and shows the marts' figures."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from assets.marts.report import write_report
from resources.warehouse import sql_text
from tests.browser import dom, not_blank, screenshot
from tests.conftest import manifest
from tests.helpers import all_assets, materialize_as_of

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def reported(small_estate, tmp_path):
    m = manifest(small_estate)
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    assert materialize_as_of(small_estate, wh, m["as_of"], outputs=out, assets=all_assets(marts=True)).success
    as_of = date.fromisoformat(m["as_of"])
    page = write_report(str(wh), as_of, "USD", out / "reports" / f"pssync-report-{as_of}.html")
    return wh, as_of, page


def test_report_renders_with_the_marts_figures(reported):
    wh, as_of, page = reported
    png = screenshot(page.as_uri(), ARTIFACTS / "report.png", height=2200)
    assert not_blank(png) > 0.02, "the screenshot shows content, not an empty page"
    text = dom(page.as_uri())
    con = duckdb.connect(str(wh), read_only=True)
    wip = con.sql(sql_text("reports/wip_by_age"), params={"as_of": as_of, "reporting": "USD"}).fetchall()
    util = con.sql(sql_text("reports/utilization_by_practice_entity"), params={"as_of": as_of}).fetchall()
    owners = con.sql(sql_text("reports/exceptions_by_owner"), params={"as_of": as_of}).fetchall()
    con.close()
    leakage = sum(float(r[2]) for r in wip)
    assert re.search(r'id="leakage-total">([\d,.]+)<', text).group(1) == f"{leakage:,.2f}"
    for bucket, value, _ in wip:
        assert f"{float(value):,.2f}" in text, bucket
    for practice, entity, _, _, ratio in util:
        assert f"{practice} {entity}" in text and f"{ratio:.1%}" in text
    for owner, n, risk in owners:
        assert f"<td>{owner}</td><td>{n:,}</td><td>{float(risk):,.2f}</td>" in text
