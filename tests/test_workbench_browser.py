"""The web workbench in headless Chromium (Debian's package, driven by Playwright), over a real nightly run served
by `pssync serve`: a finance user signs in, acknowledges an exception, waives another with a comment and releases a
batch; a delivery user is refused the release. Screenshots of every page go to test-artifacts/workbench/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.browser import FLAGS, chromium
from tests.conftest import manifest
from tests.test_ui import free_port

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "workbench"
PASSWORD = "correct horse battery"


@pytest.fixture
def served(small_estate, tmp_path, monkeypatch):
    import dagster as dg

    from dagster_project.runner import run_pipeline
    from workbench.policy import set_policy
    from workbench.store import open_store
    from workbench.users import add_user

    chromium()  # skip early (or fail under CI) without a browser
    m = manifest(small_estate)
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    env = {"PSSYNC_LANDING_DIR": str(small_estate), "PSSYNC_WAREHOUSE": str(wh), "PSSYNC_OUTPUT_DIR": str(out)}
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    # the nightly job in process on an ephemeral instance: its definitions are built from the settings now in force
    # (an instance-recorded run would reuse the code location module another test of this worker imported)
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_pipeline(date.fromisoformat(m["as_of"]), job_name="nightly_sync", on=instance).success
    engine = open_store(f"sqlite:///{tmp_path / 'workflow.db'}")
    with engine.connect() as c:
        found = c.execute(sa.text("SELECT count(*) FROM exception_states WHERE owner = 'finance'")).scalar()
    assert found >= 2, "the nightly run synced the finance exceptions into the store beside its warehouse"
    for name, role in (("fiona", "finance"), ("dmitri", "delivery"), ("ada", "admin")):
        add_user(engine, name, role, PASSWORD, __import__("datetime").datetime(2026, 11, 26))
    # one finance person releases here (two people: tests/test_web.py and tests/security): the admin's policy
    set_policy(engine, "dual_approval_above", "999999999.99", "ada", __import__("datetime").datetime(2026, 11, 26))
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "pssync"), "serve", "--port", str(port)],
        env={
            **os.environ,
            **env,
            "PSSYNC_WEB_SECRET": "browser-test-secret",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{base}/signin", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"pssync serve exited: {proc.stdout.read().decode()[-2000:]}")
                time.sleep(0.3)
        yield base, engine
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        engine.dispose()


def _sign_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/exceptions")


def test_finance_works_exceptions_and_releases_a_batch_delivery_is_refused(served):
    from playwright.sync_api import sync_playwright

    from workbench.store import batch_reviews, exception_states

    base, engine = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    args = [f for f in FLAGS if f not in ("--headless",)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=args, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/exceptions")
        assert page.url.startswith(f"{base}/signin"), "the worklist needs a signed-in user"
        page.screenshot(path=ARTIFACTS / "signin.png")
        _sign_in(page, base, "fiona")
        page.screenshot(path=ARTIFACTS / "exceptions.png", full_page=False)

        links = page.locator("table tbody a")
        assert links.count() >= 2, "finance has exceptions to work"
        first, second = links.nth(0).get_attribute("href"), links.nth(1).get_attribute("href")
        page.goto(base + first)
        page.click("form[aria-label=acknowledge] button")
        assert "the exception is acknowledged" in page.locator(".flash").inner_text()
        page.screenshot(path=ARTIFACTS / "exception.png", full_page=True)

        page.goto(base + second)
        page.select_option("#waive-reason", "CUSTOMER_AGREED")
        page.fill("#waive-comment", "agreed with the customer on the call of 25 Nov <b>not bold</b>")
        page.click("form[aria-label=waive] button")
        assert "the exception is waived" in page.locator(".flash").inner_text()
        assert page.locator("text=agreed with the customer on the call of 25 Nov <b>not bold</b>").count() == 1

        page.goto(f"{base}/batches?state=pending")
        page.screenshot(path=ARTIFACTS / "batches.png", full_page=False)
        batch = page.locator("table tbody a").first.inner_text()
        page.click(f"text={batch}")
        page.screenshot(path=ARTIFACTS / "batch.png", full_page=False)
        page.click("form[aria-label=release] button")
        assert f"{batch} is released" in page.locator(".flash").inner_text()

        page.goto(f"{base}/dashboard")
        assert page.locator("h2", has_text="Project margin").count() == 1
        page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)
        page.click("text=Sign out")
        page.wait_for_url(f"{base}/signin")

        _sign_in(page, base, "dmitri")
        page.goto(f"{base}/batches?state=pending")
        other = page.locator("table tbody a").first.inner_text()
        page.goto(f"{base}/batch/{other}")
        assert page.locator("form[aria-label=release]").count() == 0, "no release form for delivery"
        # a hand-made release form, with delivery's own valid CSRF token: refused by the server
        with page.expect_navigation():
            page.evaluate(
                """([id]) => { const f = document.createElement('form'); f.method = 'post';
                 f.action = '/batch/' + id + '/decide';
                 f.innerHTML = '<input name="decision" value="release"><input name="csrf" value="'
                   + document.querySelector('input[name=csrf]').value + '">';
                 document.body.appendChild(f); f.submit(); }""",
                [other],
            )
        assert page.locator("h1").inner_text() == "Not allowed"
        page.screenshot(path=ARTIFACTS / "refused.png")
        assert page.locator("h2", has_text="Project margin").count() == 0
        page.click("text=Sign out")
        page.wait_for_url(f"{base}/signin")

        _sign_in(page, base, "ada")  # the admin: users, their tokens and the approval policy
        page.goto(f"{base}/admin")
        assert page.locator("h1").inner_text() == "Users and policy"
        assert page.locator("td", has_text="999999999.99").count() == 1
        page.screenshot(path=ARTIFACTS / "admin.png", full_page=True)
        browser.close()

    with engine.connect() as c:
        states = dict(
            c.execute(
                sa.select(batch_reviews.c.batch_id, batch_reviews.c.state).where(
                    batch_reviews.c.batch_id.in_([batch, other])
                )
            ).all()
        )
        worked = c.execute(
            sa.select(exception_states.c.state, exception_states.c.assignee, exception_states.c.waiver_reason).where(
                exception_states.c.state.in_(("acknowledged", "waived"))
            )
        ).all()
    assert states == {batch: "released", other: "pending"}
    assert sorted(tuple(w) for w in worked) == [("acknowledged", "fiona", None), ("waived", None, "CUSTOMER_AGREED")]
    for name in ("signin", "exceptions", "exception", "batches", "batch", "dashboard", "refused", "admin"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000, name
