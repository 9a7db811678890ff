"""The HTML report renders in headless Chromium, is not blank, and shows the marts' figures."""

from __future__ import annotations

import re
from datetime import date, timedelta
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
    wip = con.sql(sql_text("reports/wip_by_age"), params={"as_of": as_of}).fetchall()
    leakage = con.sql(sql_text("reports/leakage_total"), params={"as_of": as_of}).fetchall()[0][0]
    util = con.sql(sql_text("reports/utilization_by_practice_entity"), params={"as_of": as_of}).fetchall()
    from assets.ops.exceptions import open_exceptions

    listed = open_exceptions(con, as_of)
    con.close()
    assert re.search(r'id="leakage-total">([\d,.]+)<', text).group(1) == f"{leakage:,.2f}"
    # every age bucket, the empty ones too, with its value
    assert [b for b, _ in wip] == ["0-30", "31-60", "61-90", "90+"]
    for bucket, value in wip:
        assert f"<td>{bucket}</td><td>{float(value):,.2f}</td>" in text, bucket
    for practice, entity, _, _, ratio in util:
        assert f"{practice} {entity}" in text and f"<td>{ratio:.1%}</td>" in text
    # the counts are those of `pssync exceptions` (one definition of "open exceptions")
    for owner, group in listed.group_by("owner"):
        assert f"<td>{owner[0]}</td><td>{group.height:,}</td>" in text
    # the periods are stated: months of work without the as-of month, complete weeks only; generated when
    month = re.search(r'id="realization-period">Months of work (\d{4}-\d{2})\.\.(\d{4}-\d{2})', text)
    assert month and month.group(2) < f"{as_of:%Y-%m}"
    week = re.search(r'id="utilization-period">Complete weeks starting (\S+)\.\.(\S+) ', text)
    assert week and date.fromisoformat(week.group(2)) <= as_of - timedelta(days=6)
    assert re.search(r'id="generated">Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC', text)
    assert 'id="definitions"' in text and "Leakage" in text
