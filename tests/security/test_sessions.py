"""Sessions, tokens and sign-in. Before the controls: a copied cookie kept working after sign-out, and kept the old
role after a demotion and a password change; API tokens never expired and could not be listed or revoked, and a new
password left them valid; 30 wrong passwords in 5.7 s and then the right one signed in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assets.common import now_utc
from resources.settings import PssyncSettings
from tests.security.conftest import PASSWORD, people
from workbench import users as u
from workbench.store import audit_trail, open_store
from workbench.web.app import create_app


@pytest.fixture
def app(tmp_path):
    cfg = PssyncSettings.from_env({"warehouse": str(tmp_path / "wh.duckdb"), "output_dir": str(tmp_path / "out")})
    engine = open_store(cfg.workflow)
    people(engine)
    yield create_app(cfg, secret="test-secret", per_second=1000, burst=100_000), engine
    engine.dispose()


def _sign_in(app, username: str, password: str = PASSWORD) -> tuple[TestClient, str | None]:
    client = TestClient(app)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
    r = client.post("/signin", data={"username": username, "password": password, "csrf": csrf}, follow_redirects=False)
    if r.headers.get("location") != "/exceptions":
        return client, None
    return client, re.search(r'name="csrf" value="([^"]+)"', client.get("/exceptions").text).group(1)


def _copy_of(client: TestClient) -> TestClient:
    thief = TestClient(client.app)
    thief.cookies.set("pssync_session", client.cookies.get("pssync_session"))
    return thief


def test_a_copied_cookie_dies_with_sign_out(app):
    app, _ = app
    client, csrf = _sign_in(app, "hana")
    thief = _copy_of(client)
    assert thief.get("/dashboard", follow_redirects=False).status_code == 200
    client.post("/signout", data={"csrf": csrf})
    assert thief.get("/dashboard", follow_redirects=False).status_code == 303
    assert thief.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("change", ["demote", "password", "disable"])
def test_a_session_ends_when_its_user_changes(app, change):
    app, engine = app
    client, _ = _sign_in(app, "hana")
    assert client.get("/api/v1/project-margin").status_code == 200, "hr sees margins"
    {
        "demote": lambda: u.set_role(engine, "hana", "analyst", now_utc(), "adam"),
        "password": lambda: u.set_password(engine, "hana", "a brand new password", now_utc(), "adam"),
        "disable": lambda: u.disable(engine, "hana", now_utc(), "adam"),
    }[change]()
    assert client.get("/api/v1/project-margin").status_code == 401
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    if change == "demote":  # signed in again, the new role: margins refused
        again, _ = _sign_in(app, "hana")
        assert again.get("/api/v1/project-margin").status_code == 403


def test_tokens_expire_are_listed_and_revoked_and_a_new_password_voids_them(app):
    app, engine = app
    api = TestClient(app)
    token = u.issue_token(engine, "fiona", now_utc(), days=1)
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/me", headers=bearer).json() == {"username": "fiona", "role": "finance"}
    listed = u.list_tokens(engine, "fiona")
    assert len(listed) == 1 and listed[0]["expires_at"] - listed[0]["created_at"] == timedelta(days=1)
    assert u.revoke(engine, listed[0]["token_id"], now_utc(), "adam") == 1
    assert api.get("/api/v1/me", headers=bearer).status_code == 401
    old = u.issue_token(engine, "fiona", now_utc() - timedelta(days=2), days=1)  # issued two days ago for one day
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    fresh = u.issue_token(engine, "fiona", now_utc())
    u.set_password(engine, "fiona", "a brand new password", now_utc(), "fiona")
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401
    with pytest.raises(u.UserError):
        u.issue_token(engine, "fiona", now_utc(), days=10_000)


def test_repeated_wrong_passwords_lock_the_user_even_against_the_right_one_and_are_audited(app):
    app, engine = app
    for _ in range(30):
        _, ok = _sign_in(app, "fred", "not the password")
        assert ok is None
    client, ok = _sign_in(app, "fred")
    assert ok is None, "locked: the right password is refused too"
    page = client.get("/signin").text
    assert "too many failed sign-ins" in page
    with engine.connect() as c:
        locks = c.execute(
            sa.select(sa.func.count()).where(
                (audit_trail.c.action == "locked_out") & (audit_trail.c.exception_key == "user|user:fred")
            )
        ).scalar()
    assert locks >= 1
    assert _sign_in(app, "fiona")[1] is not None, "another user is not locked by fred's failures"


def test_many_users_tried_from_one_address_lock_the_address(app):
    app, _ = app
    for n in range(u.ADDRESS_FAILURES):
        assert _sign_in(app, f"guess{n}", "nope-nope-nope")[1] is None
    assert _sign_in(app, "fiona")[1] is None, "the address is locked for everyone"


def test_cookies_are_secure_over_https(app):
    app, _ = app
    client = TestClient(app, base_url="https://workbench.test")
    r = client.get("/signin")
    assert "secure" in r.headers["set-cookie"].lower()
    plain = TestClient(app).get("/signin")
    assert "secure" not in plain.headers["set-cookie"].lower()


def test_only_an_admin_uses_the_admin_page_and_its_changes_take_effect(app):
    app, _engine = app
    finance, csrf_f = _sign_in(app, "fiona")
    assert finance.get("/admin").status_code == 403
    assert (
        finance.post("/admin/policy", data={"name": "dual_approval_above", "value": "0", "csrf": csrf_f}).status_code
        == 403
    )
    victim, _ = _sign_in(app, "fred")
    admin, csrf = _sign_in(app, "adam")
    page = admin.get("/admin").text
    assert "dual_approval_above" in page and "finbot" in page and "service" in page
    page = admin.post("/admin/policy", data={"name": "dual_approval_above", "value": "1e99999", "csrf": csrf}).text
    assert "must be an amount" in page
    page = admin.post("/admin/policy", data={"name": "dual_approval_above", "value": "75000", "csrf": csrf}).text
    assert "1000.00 → 75000.00" in page
    assert admin.post("/admin/user", data={"username": "fred", "action": "disable"}).status_code == 403, "CSRF"
    page = admin.post("/admin/user", data={"username": "fred", "action": "disable", "csrf": csrf}).text
    assert "fred: disabled" in page
    assert victim.get("/api/v1/me").status_code == 401, "fred's session ended with the disablement"
    assert _sign_in(app, "fred")[1] is None
