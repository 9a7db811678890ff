"""Who acts is proven, and the policy is the store's. Before the controls: `pssync batches release B --as fiona` then
`--as fred` from one shell released a batch with no credential; `PSSYNC_DUAL_APPROVAL_ABOVE=off` in the decider's
own shell let one person release 223,374.67 EUR; a finance service account's token was the second approver;
`pssync users add carla --role hr` silently replaced an existing user; an exception could be assigned to
`nosuchperson`."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assets.common import now_utc
from dagster_project.cli import main
from tests.security.conftest import PASSWORD, people, store_of
from workbench.batches import batch, batches
from workbench.store import audit_trail, events, exception_states, users


@pytest.fixture
def store(own_copy, monkeypatch):
    _landing, wh, _out, _m = own_copy
    for name in ("PSSYNC_PASSWORD", "PSSYNC_TOKEN", "PSSYNC_DUAL_APPROVAL_ABOVE", "PSSYNC_NEW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    engine = store_of(wh)
    people(engine)
    yield engine, wh
    engine.dispose()


def _largest(engine) -> dict:
    return max(batches(engine, "pending"), key=lambda b: b["gross_reporting"])


def _cli(*argv, wh) -> int:
    return main([*argv, "--warehouse", str(wh)])


def test_a_typed_name_releases_nothing(store, capsys):
    engine, wh = store
    b = _largest(engine)
    assert b["gross_reporting"] > Decimal("1000.00")
    for who in ("fiona", "fred"):
        assert _cli("batches", "release", b["batch_id"], "--as", who, wh=wh) == 2
        assert f"--as {who} alone acts for no one" in capsys.readouterr().err
    after = batch(engine, b["batch_id"])
    assert (after["state"], after["first_approver"]) == ("pending", None)


def test_the_deciders_environment_cannot_lower_the_threshold_and_two_people_release(store, capsys, monkeypatch):
    engine, wh = store
    b = _largest(engine)["batch_id"]
    monkeypatch.setenv("PSSYNC_PASSWORD", PASSWORD)
    monkeypatch.setenv("PSSYNC_DUAL_APPROVAL_ABOVE", "off")
    assert _cli("batches", "release", b, "--as", "fiona", wh=wh) == 2
    assert "PSSYNC_DUAL_APPROVAL_ABOVE='off': no longer read" in capsys.readouterr().err
    monkeypatch.delenv("PSSYNC_DUAL_APPROVAL_ABOVE")
    assert _cli("batches", "release", b, "--as", "fiona", wh=wh) == 0
    assert "a second finance user must release it" in capsys.readouterr().out
    assert _cli("batches", "release", b, "--as", "fiona", wh=wh) == 2
    assert "another finance user than fiona" in capsys.readouterr().err
    assert batch(engine, b)["state"] == "pending"
    assert _cli("batches", "release", b, "--as", "fred", wh=wh) == 0
    after = batch(engine, b)
    assert (after["state"], after["first_approver"], after["decided_by"]) == ("released", "fiona", "fred")


def test_a_service_accounts_token_never_approves(store, capsys, monkeypatch):
    from resources.settings import PssyncSettings
    from workbench.users import issue_token
    from workbench.web.app import create_app

    engine, wh = store
    b = _largest(engine)["batch_id"]
    bot = issue_token(engine, "finbot", now_utc())
    monkeypatch.setenv("PSSYNC_TOKEN", bot)
    assert _cli("batches", "release", b, wh=wh) == 2
    assert "finbot' is a service account" in capsys.readouterr().err
    settings = PssyncSettings.from_env({"warehouse": str(wh), "output_dir": str(wh.parent / "out")})
    api = TestClient(create_app(settings, secret="t"))
    r = api.post(
        f"/api/v1/batches/{b}/decision", json={"decision": "release"}, headers={"Authorization": f"Bearer {bot}"}
    )
    assert r.status_code == 409 and "service account" in r.json()["detail"]
    assert api.get("/api/v1/batches", headers={"Authorization": f"Bearer {bot}"}).status_code == 200, "it still reads"
    # what it reads is what the OpenAPI document says, lines and money as text included
    from workbench.web.schemas import BatchDetail

    sent = api.get(f"/api/v1/batches/{b}", headers={"Authorization": f"Bearer {bot}"}).json()
    detail = BatchDetail.model_validate(sent)
    assert detail.lines and all(isinstance(line["amount"], str) for line in sent["lines"]), "money travels as text"
    assert sum(line.amount for line in detail.lines) == detail.net_amount
    # a person's token is theirs alone: naming someone else beside it is refused
    monkeypatch.setenv("PSSYNC_TOKEN", issue_token(engine, "fiona", now_utc()))
    assert _cli("batches", "release", b, "--as", "fred", wh=wh) == 2
    assert "PSSYNC_TOKEN is fiona's token" in capsys.readouterr().err
    assert batch(engine, b)["first_approver"] is None


def test_only_an_admin_changes_the_policy_and_each_change_is_audited_and_told(store, capsys, monkeypatch):
    engine, wh = store
    monkeypatch.setenv("PSSYNC_PASSWORD", PASSWORD)
    assert _cli("policy", "set", "dual_approval_above", "0", "--as", "fiona", wh=wh) == 2
    assert "only an admin changes the policy" in capsys.readouterr().err
    for absurd in ("1e99999", "-1", "NaN", "Infinity", "50000.001", "off"):
        assert _cli("policy", "set", "dual_approval_above", absurd, "--as", "adam", wh=wh) == 2
        err = capsys.readouterr().err
        assert "must be an amount" in err or "is not an amount" in err, err
    assert _cli("policy", "set", "dual_approval_above", "250000", "--as", "adam", wh=wh) == 0
    assert "1000.00 -> 250000.00 (by adam)" in capsys.readouterr().out
    with engine.connect() as c:
        trail = c.execute(
            sa.select(audit_trail.c.actor, audit_trail.c.after).where(
                audit_trail.c.exception_key == "policy|dual_approval_above"
            )
        ).all()
        told = c.execute(sa.select(events.c.payload).where(events.c.type == "policy.changed")).scalars().all()
    assert [(a, json.loads(v)["value"]) for a, v in trail] == [("adam", "1000.00"), ("adam", "250000.00")]
    assert json.loads(told[-1]) == {
        "name": "dual_approval_above",
        "before": "1000.00",
        "after": "250000.00",
        "by": "adam",
    }


def test_a_legal_entitys_own_threshold(store, monkeypatch):
    from workbench.batches import decide
    from workbench.policy import set_policy

    engine, _wh = store
    large = [b for b in batches(engine, "pending") if b["gross_reporting"] > Decimal("1000.00")]
    entities = sorted({b["legal_entity"] for b in large})
    assert len(entities) >= 2
    set_policy(engine, f"dual_approval_above.{entities[0]}", "999999999.99", "adam", now_utc())
    own = next(b for b in large if b["legal_entity"] == entities[0])
    other = next(b for b in large if b["legal_entity"] == entities[1])
    assert decide(engine, own["batch_id"], "release", "fiona", now_utc())["state"] == "released"
    assert decide(engine, other["batch_id"], "release", "fiona", now_utc())["state"] == "pending"


def test_users_add_refuses_a_name_that_exists_and_only_an_admin_manages_users(store, capsys, monkeypatch):
    engine, wh = store
    monkeypatch.setenv("PSSYNC_PASSWORD", PASSWORD)
    monkeypatch.setenv("PSSYNC_NEW_PASSWORD", "another long password")
    assert _cli("users", "add", "fiona", "--role", "hr", "--as", "adam", wh=wh) == 2
    assert "'fiona' exists" in capsys.readouterr().err
    assert _cli("users", "add", "carla", "--role", "admin", "--as", "fiona", wh=wh) == 2
    assert "only an admin manages users" in capsys.readouterr().err
    with engine.connect() as c:
        assert c.execute(sa.select(users.c.role).where(users.c.username == "fiona")).scalar() == "finance"
        assert c.execute(sa.select(users.c.username).where(users.c.username == "carla")).first() is None
    assert _cli("users", "add", "carla", "--role", "hr", "--as", "adam", wh=wh) == 0


def test_work_goes_only_to_an_active_user_whose_role_may_work_it(store, capsys, monkeypatch):
    engine, wh = store
    with engine.connect() as c:
        key = c.execute(
            sa.select(exception_states.c.exception_key).where(
                (exception_states.c.owner == "finance") & (exception_states.c.state == "open")
            )
        ).scalar()
    monkeypatch.setenv("PSSYNC_PASSWORD", PASSWORD)
    for assignee, why in (("nosuchperson", "not an active workbench user"), ("dora", "cannot work an exception")):
        assert _cli("exceptions", "assign", key, "--as", "fiona", "--assignee", assignee, wh=wh) == 2
        assert why in capsys.readouterr().err
    assert _cli("exceptions", "assign", key, "--as", "fiona", "--assignee", "fred", wh=wh) == 0


def test_a_waiver_above_the_roles_limit_is_refused(store, capsys, monkeypatch):
    from workbench.policy import set_policy

    engine, wh = store
    set_policy(engine, "waiver_limit.finance", "1.00", "adam", now_utc())
    with engine.connect() as c:
        key = c.execute(
            sa.select(exception_states.c.exception_key).where(
                (exception_states.c.owner == "finance") & (exception_states.c.amount_at_risk > 1)
            )
        ).scalar()
    assert key, "a finance exception with money at risk"
    monkeypatch.setenv("PSSYNC_PASSWORD", PASSWORD)
    argv = ("exceptions", "waive", key, "--as", "fiona", "--reason", "CUSTOMER_AGREED", "--comment", "agreed")
    assert _cli(*argv, wh=wh) == 2
    assert "above the finance waiver limit of 1.00" in capsys.readouterr().err
    set_policy(engine, "waiver_limit.finance", None, "adam", now_utc())
    assert _cli(*argv, wh=wh) == 0


def test_a_password_in_the_workflow_url_is_warned_about_and_never_printed(capsys):
    url = "postgresql+psycopg://pssync:s3cret-pw@127.0.0.1:1/none"
    with pytest.raises(SystemExit) as stopped:
        main(["events", "list", "--workflow-url", url])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "carries a password" in err and "cannot open the workflow store" in err
    assert "s3cret-pw" not in err and "***" in err


def test_the_threshold_is_compared_in_the_reporting_currency(store):
    from workbench.batches import decide
    from workbench.policy import set_policy

    engine, wh = store
    foreign = [
        b for b in batches(engine, "pending") if b["currency"] != "USD" and b["gross_reporting"] != b["gross_amount"]
    ]
    assert foreign, "a batch in another currency than the reporting one"
    b = foreign[0]
    threshold = ((b["gross_amount"] + b["gross_reporting"]) / 2).quantize(Decimal("0.01"))
    set_policy(engine, "dual_approval_above", str(threshold), "adam", now_utc())
    after = decide(engine, b["batch_id"], "release", "fiona", now_utc())
    # between its own gross and its reporting gross: only the reporting figure decides
    assert after["state"] == ("pending" if b["gross_reporting"] > threshold else "released")
    # and the figure is the batch's gross at its date's ERP rates, half-up to the cent
    f, t = rate_on(wh, b["currency"], b["as_of_date"]), rate_on(wh, "USD", b["as_of_date"])
    assert b["gross_reporting"] == (b["gross_amount"] * f / t).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def rate_on(wh, currency: str, day) -> Decimal:
    """The ERP rate of a currency in force on a date (the latest effective by then)."""
    from tests.helpers import query

    rows = query(
        wh,
        "SELECT rate FROM canonical.currency_rate_asof(?::DATE) WHERE currency = ? AND effective_date <= ? "
        "ORDER BY effective_date DESC LIMIT 1",
        [day, currency, day],
    )
    return Decimal(str(rows[0][0]))
