"""The web workbench's access rules, on a workflow store with known contents: every endpoint refuses what a role
may not see or do (401 without credentials, 403 for the wrong role, 404 for what a role may not even see), posts
without the CSRF token fail, injection strings come back as text, money is never a float, and schemathesis finds no
server error in the API."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from assets.common import now_utc
from resources.settings import PssyncSettings
from workbench.batches import register
from workbench.lifecycle import Finding, sync_findings
from workbench.policy import set_policy
from workbench.store import exception_states, open_store
from workbench.users import add_user, issue_token
from workbench.web.app import create_app

T0 = datetime(2026, 11, 20, 9, 0)
PASSWORD = "correct horse battery"
ROLES = ("finance", "delivery", "hr", "analyst", "admin")
SCRIPT = "<script>alert('pwned')</script>"
SQLI = "'; DROP TABLE exception_states; --"
BATCH_SMALL = "BB-US01-1001-USD-20261119"
BATCH_LARGE = "BB-US01-1002-USD-20261119"


def _finding(owner: str, rule: str, record: str, message: str) -> Finding:
    return Finding("recon", "recon", "time_to_bill", record, rule, message, owner, False)


FINDINGS = {
    "finance": _finding(
        "finance", "RATE_MISMATCH", "11", f"time entry 11 on P-1: {SCRIPT} {SQLI}, 1,200.00 USD at risk"
    ),
    "delivery": _finding("delivery", "INELIGIBLE:PROJECT_CLOSED", "12", "time entry 12 on P-2, 800.00 USD at risk"),
    "hr": _finding("hr", "INELIGIBLE:UNMAPPED_EMPLOYEE", "13", "time entry 13 on P-3, 15,000.00 EUR at risk"),
    "integration": _finding("integration", "UNKNOWN_PROJECT", "14", "line 14 names project P-404"),
}


def _header(batch_id: str, customer: int, gross: str) -> dict:
    return dict(
        batch_id=batch_id,
        as_of_date=T0.date(),
        legal_entity="US01",
        customer_id=customer,
        currency="USD",
        line_count=1,
        net_amount=Decimal(gross),
        tax_amount=Decimal("0.00"),
        gross_amount=Decimal(gross),
        gross_reporting=Decimal(gross),
        reporting_currency="USD",
    )


@pytest.fixture
def workbench(tmp_path):
    """An app on a store with one exception per owner, a small and a large pending batch (dual approval above
    1,000.00), a user per role (two in finance) and an API token per role."""
    cfg = PssyncSettings.from_env(
        {
            "warehouse": str(tmp_path / "wh.duckdb"),
            "output_dir": str(tmp_path / "out"),
        }
    )
    engine = open_store(cfg.workflow)
    for role in ROLES:
        add_user(engine, f"{role}1", role, PASSWORD, T0)
    add_user(engine, "finance2", "finance", PASSWORD, T0)
    set_policy(engine, "dual_approval_above", "1000.00", "admin1", T0)
    tokens = {role: issue_token(engine, f"{role}1", now_utc()) for role in ROLES}
    sync_findings(engine, list(FINDINGS.values()), T0, cfg.sla())
    register(engine, [_header(BATCH_SMALL, 1001, "600.00"), _header(BATCH_LARGE, 1002, "12480.00")], T0)
    app = create_app(cfg, secret="test-secret", per_second=1000, burst=100_000)
    yield app, engine, tokens
    engine.dispose()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def signed_in(app, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
    r = client.post("/signin", data={"username": username, "password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/exceptions", f"{username} could not sign in"
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/exceptions").text).group(1)
    return client, csrf


def _key(owner: str) -> str:
    return FINDINGS[owner].key


# every API operation, with what each role gets: status by role
def api_matrix():
    fin_key, del_key, hr_key = _key("finance"), _key("delivery"), _key("hr")
    comment = {"action": "comment", "comment": "looked at it"}
    all_200 = dict.fromkeys(ROLES, 200)
    return [
        ("GET", "/api/v1/me", None, all_200),
        ("GET", "/api/v1/exceptions", None, all_200),
        ("GET", f"/api/v1/exception?key={fin_key}", None, dict(all_200, delivery=404, hr=404)),
        ("GET", f"/api/v1/exception?key={hr_key}", None, dict(all_200, finance=404, delivery=404)),
        (
            "POST",
            "/api/v1/exception/actions",
            {"key": del_key, **comment},
            dict(finance=404, delivery=200, hr=404, analyst=403, admin=200),
        ),
        ("GET", "/api/v1/batches", None, dict(all_200, hr=403)),
        ("GET", f"/api/v1/batches/{BATCH_SMALL}", None, dict(all_200, hr=403)),
        (
            "POST",
            f"/api/v1/batches/{BATCH_SMALL}/decision",
            {"decision": "reject", "reason": "wrong customer"},
            dict(finance=200, delivery=403, hr=403, analyst=403, admin=403),
        ),
        ("GET", "/api/v1/dashboard", None, all_200),
        ("GET", "/api/v1/project-margin", None, dict(finance=200, delivery=403, hr=200, analyst=403, admin=200)),
    ]


def test_every_api_operation_refuses_without_credentials_and_with_a_bad_token(workbench):
    app, _, _ = workbench
    client = TestClient(app)
    listed = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    tried = {(m, re.sub(r"\?.*", "", p).replace(BATCH_SMALL, "{batch_id}")) for m, p, _, _ in api_matrix()}
    assert tried == listed, "the matrix covers every operation of the OpenAPI document"
    for method, path, body, _ in api_matrix():
        assert client.request(method, path, json=body).status_code == 401, (method, path)
        assert client.request(method, path, json=body, headers=_bearer("pss_forged")).status_code == 401


def test_each_role_gets_exactly_what_it_owns(workbench):
    app, _engine, tokens = workbench
    client = TestClient(app)
    for method, path, body, expected in api_matrix():
        for role in ROLES:
            if method == "POST" and "decision" in path and role == "finance":
                continue  # decided last, once
            got = client.request(method, path, json=body, headers=_bearer(tokens[role])).status_code
            assert got == expected[role], f"{role} {method} {path}: {got}, expected {expected[role]}"
    r = client.post(
        f"/api/v1/batches/{BATCH_SMALL}/decision",
        json={"decision": "reject", "reason": "wrong customer"},
        headers=_bearer(tokens["finance"]),
    )
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    # what each role sees in the worklist
    seen = {
        role: {e["owner"] for e in client.get("/api/v1/exceptions", headers=_bearer(tokens[role])).json()["items"]}
        for role in ROLES
    }
    assert seen == {
        "finance": {"finance", "integration"},
        "delivery": {"delivery"},
        "hr": {"hr"},
        "analyst": {"finance", "delivery", "hr", "integration"},
        "admin": {"finance", "delivery", "hr", "integration"},
    }
    assert client.get("/api/v1/exceptions?owner=hr", headers=_bearer(tokens["delivery"])).status_code == 403


def test_money_is_exact_decimal_text_and_the_urgent_finding_is_due_sooner(workbench):
    app, _, tokens = workbench
    client = TestClient(app)
    batch = client.get(f"/api/v1/batches/{BATCH_LARGE}", headers=_bearer(tokens["finance"])).json()
    assert batch["gross_amount"] == "12480.00" and batch["state"] == "pending"
    items = {e["owner"]: e for e in client.get("/api/v1/exceptions", headers=_bearer(tokens["admin"])).json()["items"]}
    assert items["hr"]["amount_at_risk"] == "15000.00" and items["hr"]["currency"] == "EUR"
    # 15,000 at risk is at or above the urgent amount (10,000 by default): due in 2 days, not hr's 10
    assert items["hr"]["due_at"] == "2026-11-22T09:00:00Z"  # UTC, said so
    assert items["finance"]["due_at"] == "2026-11-25T09:00:00Z"


def test_pages_refuse_what_the_role_may_not_do(workbench):
    app, _, _ = workbench
    delivery, csrf = signed_in(app, "delivery1")
    page = delivery.get(f"/batch/{BATCH_SMALL}")
    assert page.status_code == 200 and "Release" not in page.text, "delivery sees a batch, without release"
    r = delivery.post(f"/batch/{BATCH_SMALL}/decide", data={"decision": "release", "csrf": csrf})
    assert r.status_code == 403
    assert delivery.get("/exception", params={"key": _key("finance")}).status_code == 404
    assert "Project margin" not in delivery.get("/dashboard").text
    hr, _ = signed_in(app, "hr1")
    assert hr.get("/batches").status_code == 403
    analyst, csrf = signed_in(app, "analyst1")
    assert "Acknowledge" not in analyst.get("/exception", params={"key": _key("delivery")}).text
    r = analyst.post("/exception/act", data={"key": _key("delivery"), "action": "ack", "csrf": csrf})
    assert r.status_code == 403
    anonymous = TestClient(app)
    for path in ("/exceptions", "/batches", "/dashboard", f"/batch/{BATCH_SMALL}"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin"), path


def test_posts_without_the_csrf_token_fail(workbench):
    app, engine, _tokens = workbench
    client, csrf = signed_in(app, "finance1")
    key = _key("finance")
    for data in ({"key": key, "action": "ack"}, {"key": key, "action": "ack", "csrf": "forged"}):
        assert client.post("/exception/act", data=data).status_code == 403
    assert client.post(f"/batch/{BATCH_SMALL}/decide", data={"decision": "release"}).status_code == 403
    assert client.post("/signout", data={}).status_code == 403
    fresh = TestClient(app)
    r = fresh.post("/signin", data={"username": "finance1", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403, "signing in needs the form's token too"
    # the API with the session cookie needs the token in a header; with a bearer token it does not
    body = {"key": key, "action": "ack"}
    assert client.post("/api/v1/exception/actions", json=body).status_code == 403
    with engine.connect() as c:
        assert (
            c.execute(sa.select(exception_states.c.state).where(exception_states.c.exception_key == key)).scalar()
            == "open"
        )
    assert client.post("/api/v1/exception/actions", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
    # with the token, the form works
    r = client.post("/exception/act", data={"key": key, "action": "comment", "comment": "ok", "csrf": csrf})
    assert r.status_code == 200  # followed to the exception's page


def test_injection_strings_come_back_as_text(workbench):
    app, engine, _ = workbench
    client, csrf = signed_in(app, "finance1")
    key = _key("finance")
    listing = client.get("/exceptions").text
    assert SCRIPT not in listing and "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in listing
    client.post(
        "/exception/act",
        data={"key": key, "action": "waive", "reason": "CUSTOMER_AGREED", "comment": f"{SCRIPT} {SQLI}", "csrf": csrf},
    )
    page = client.get("/exception", params={"key": key}).text
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert "waived" in page
    # the statement was data: the table is still there, with every row
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(exception_states)).scalar() == len(FINDINGS)
    # a search for an injection string matches nothing rather than everything
    assert "Nothing to work here" in client.get("/exceptions", params={"q": "%' OR '1'='1"}).text
    assert client.get("/exceptions", params={"q": "x\x00y"}).status_code == 422
    assert client.get("/exceptions", params={"offset": str(10**30)}).status_code == 422
    # a user name that is markup is shown as text on the history
    wrong = client.get("/exception", params={"key": f"{SCRIPT}|x"})
    assert wrong.status_code == 404 and SCRIPT not in wrong.text


def test_sessions_are_signed_and_a_wrong_password_says_nothing_about_the_user(workbench):
    app, _, _ = workbench
    client, _ = signed_in(app, "finance1")
    cookie = client.cookies.get("pssync_session")
    forged = TestClient(app)
    forged.cookies.set("pssync_session", cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB"))
    assert forged.get("/exceptions", follow_redirects=False).status_code == 303
    for user in ("finance1", "nobody"):
        c = TestClient(app)
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/signin").text).group(1)
        r = c.post("/signin", data={"username": user, "password": "wrong-password", "csrf": token})
        assert "wrong user name or password" in r.text
    headers = client.get("/exceptions").headers
    assert "default-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
    assert re.search(r"https?://", client.get("/static/style.css").text) is None, "no asset from a CDN"


def test_dual_approval_through_the_pages(workbench):
    app, _, _ = workbench
    fin1, csrf1 = signed_in(app, "finance1")
    page = fin1.post(f"/batch/{BATCH_LARGE}/decide", data={"decision": "release", "csrf": csrf1}).text
    assert "first approval recorded" in page
    page = fin1.post(f"/batch/{BATCH_LARGE}/decide", data={"decision": "release", "csrf": csrf1}).text
    assert "another finance user" in page
    fin2, csrf2 = signed_in(app, "finance2")
    page = fin2.post(f"/batch/{BATCH_LARGE}/decide", data={"decision": "release", "csrf": csrf2}).text
    assert f"{BATCH_LARGE} is released" in page


@pytest.mark.parametrize("role", ["finance", "analyst"])
def test_the_api_answers_as_its_document_says_whatever_it_is_sent(workbench, role):
    """schemathesis generates requests from the OpenAPI document for every operation, as a person of the role, and
    runs every check it has: no server error, every status and response body as documented, schema-valid requests
    accepted and invalid ones refused."""
    from hypothesis import given

    app, _, tokens = workbench
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(ops) for ops in app.openapi()["paths"].values()) == 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case):
            response = case.call_and_validate(headers=_bearer(tokens[role]))
            if response.status_code == 200:
                json.loads(response.text)  # a body that parses

        no_server_error()
