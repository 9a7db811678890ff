"""The workbench's command line: batch release, users and API tokens, event delivery, and the web server."""

from __future__ import annotations

import argparse
import json
import sys


def open_workflow(settings, command: str):
    """An engine on the workflow store, or one line naming the store and why it cannot be opened (SystemExit 2)."""
    import sqlalchemy as sa

    from workbench.store import open_store

    url = sa.engine.make_url(settings.workflow)
    if url.password:
        print(
            f"pssync {command}: warning: the workflow store's URL carries a password, visible to every user of this "
            "machine (ps, shell history); leave it out and use PGPASSWORD or ~/.pgpass",
            file=sys.stderr,
        )
    try:
        return open_store(settings.workflow)
    except Exception as exc:  # unreachable server, unwritable folder
        url = url.render_as_string(hide_password=True)
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"pssync {command}: cannot open the workflow store {url}: {why}", file=sys.stderr)
        raise SystemExit(2) from None


class NotProven(Exception):
    """The command line could not prove who acts; the message says what to give."""


def acting_user(engine, actor: str | None) -> str:
    """Who acts, proven, never typed: the user of the API token in ``PSSYNC_TOKEN``, or ``--as NAME`` with that
    person's password (``PSSYNC_PASSWORD``, else asked for on a terminal). Wrong passwords count toward the same
    lockout as the web's sign-in. Raises ``NotProven``."""
    import getpass
    import os
    import socket

    from assets.common import now_utc
    from workbench.users import SignInRefused, sign_in, user_for_token

    token = os.environ.get("PSSYNC_TOKEN", "").strip()
    if token:
        found = user_for_token(engine, token, now_utc())
        if found is None:
            raise NotProven("PSSYNC_TOKEN is no valid API token (unknown, expired, revoked, or its user changed)")
        if actor and actor != found["username"]:
            raise NotProven(f"--as {actor} but PSSYNC_TOKEN is {found['username']}'s token")
        return found["username"]
    if not actor:
        raise NotProven("say who acts: --as NAME with PSSYNC_PASSWORD (or on a terminal), or PSSYNC_TOKEN")
    password = os.environ.get("PSSYNC_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass(f"password for {actor}: ")
    if not password:
        raise NotProven(
            f"--as {actor} alone acts for no one: give {actor}'s password in PSSYNC_PASSWORD (or run it on a "
            "terminal to be asked), or an API token in PSSYNC_TOKEN"
        )
    try:
        sign_in(engine, actor, password, f"cli:{getpass.getuser()}@{socket.gethostname()}", now_utc())
    except SignInRefused as exc:
        raise NotProven(str(exc)) from None
    return actor


def cmd_batch_decision(args, settings) -> int:
    """``pssync batches release|reject|status BATCH``."""
    from assets.common import now_utc
    from workbench.batches import batch, batches, decide
    from workbench.lifecycle import ActionRefused

    engine = open_workflow(settings, f"batches {args.action}")
    try:
        if args.action == "status":
            rows = [batch(engine, args.key)] if args.key else batches(engine, args.state)
            if rows == [None]:
                print(f"pssync batches status: no batch {args.key!r} in the workflow store", file=sys.stderr)
                return 2
            for r in rows:
                print(json.dumps(r, default=str, sort_keys=True))
            return 0
        if not args.key:
            print(f"pssync batches {args.action}: name the batch (BB-...)", file=sys.stderr)
            return 2
        after = decide(engine, args.key, args.action, acting_user(engine, args.actor), now_utc(), args.reason)
    except (ActionRefused, NotProven) as exc:
        print(f"pssync batches {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if after["state"] == "pending":
        print(f"{args.key}: first approval by {after['first_approver']}; a second finance user must release it")
    else:
        print(f"{args.key}: {after['state']}")
    return 0


USER_ACTIONS = ("add", "token", "list", "tokens", "role", "password", "disable", "enable", "revoke")


def cmd_users(args, settings) -> int:
    """``pssync users add|token|list|tokens|role|password|disable|enable|revoke``: every one but the first admin's
    creation is done by an authenticated admin (``token`` and ``password``: also the user for themself)."""
    import getpass
    import os

    from assets.common import now_utc
    from workbench import users as u

    engine = open_workflow(settings, f"users {args.action}")
    now = now_utc()
    try:
        if args.action == "add" and not u.has_admin(engine):
            actor = "pssync"  # the first admin of a new store: whoever can open the store makes them
            if args.role != "admin" or args.service:
                raise u.UserError("the store has no admin yet: add a person with --role admin first")
        else:
            actor = acting_user(engine, args.actor)
            found = u.user(engine, actor)
            own = args.action in ("token", "password") and args.name == actor
            if not own and not u.is_admin(found):
                raise u.UserError(f"{actor} is not an admin: only an admin manages users and tokens")
        if args.action == "add":
            password = None
            if not args.service:
                password = os.environ.get("PSSYNC_NEW_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
            u.add_user(engine, args.name, args.role or "", password, now, actor)
            print(f"{args.name}: {args.role}" + (" (service account: API tokens only)" if args.service else ""))
        elif args.action == "token":
            print(u.issue_token(engine, args.name, now, args.days, actor))
        elif args.action == "list":
            for row in u.list_users(engine):
                print(json.dumps(row, default=str, sort_keys=True))
        elif args.action == "tokens":
            for row in u.list_tokens(engine, None if args.name == "all" else args.name):
                print(json.dumps(row, default=str, sort_keys=True))
        elif args.action == "role":
            u.set_role(engine, args.name, args.role or "", now, actor)
            print(f"{args.name}: {args.role} (their sessions and tokens are void)")
        elif args.action == "password":
            password = os.environ.get("PSSYNC_NEW_PASSWORD") or getpass.getpass(f"new password for {args.name}: ")
            u.set_password(engine, args.name, password, now, actor)
            print(f"{args.name}: new password (their sessions and tokens are void)")
        elif args.action in ("disable", "enable"):
            (u.disable if args.action == "disable" else u.enable)(engine, args.name, now, actor)
            print(f"{args.name}: {args.action}d")
        else:
            print(f"{u.revoke(engine, args.name, now, actor)} token(s) revoked")
    except (u.UserError, NotProven) as exc:
        print(f"pssync users {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def cmd_policy(args, settings) -> int:
    """``pssync policy show`` and ``pssync policy set NAME VALUE --as ADMIN`` (``--remove``: drop an override)."""
    from assets.common import now_utc
    from workbench.policy import PolicyError, all_policies, set_policy

    engine = open_workflow(settings, f"policy {args.action}")
    try:
        if args.action == "show":
            for row in all_policies(engine):
                print(json.dumps(row, default=str, sort_keys=True))
            return 0
        if not args.name or (args.value is None) == (not args.remove):
            raise PolicyError("set NAME VALUE, or set NAME --remove")
        change = set_policy(engine, args.name, args.value, acting_user(engine, args.actor), now_utc())
        print(f"{change['name']}: {change['before']} -> {change['after']} (by {change['by']})")
    except (PolicyError, NotProven) as exc:
        print(f"pssync policy {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def cmd_events(args, settings) -> int:
    """``pssync events deliver|retry|list``."""
    import sqlalchemy as sa

    from assets.common import now_utc
    from workbench.events import deliver, retry_dead, sinks_of
    from workbench.store import event_deliveries, events

    engine = open_workflow(settings, f"events {args.action}")
    try:
        if args.action == "deliver":
            sinks = sinks_of(settings)
            if not sinks:
                print(
                    "pssync events deliver: no sink configured (PSSYNC_WEBHOOK_URLS, PSSYNC_NATS_URL)", file=sys.stderr
                )
                return 2
            print(json.dumps(deliver(engine, sinks, now_utc(), settings.event_max_attempts, deadline=args.deadline)))
        elif args.action == "retry":
            print(f"{retry_dead(engine, now_utc())} dead-lettered deliveries are pending again")
        else:
            d = event_deliveries.c
            with engine.connect() as con:
                rows = con.execute(
                    sa.select(events.c.event_id, events.c.type, events.c.subject, events.c.occurred_at)
                    .order_by(events.c.occurred_at.desc(), events.c.event_id)
                    .limit(args.limit)
                ).all()
                states = con.execute(sa.select(d.state, sa.func.count()).group_by(d.state)).all()
            for r in rows:
                print(json.dumps(dict(r._mapping), default=str))
            print("deliveries: " + (", ".join(f"{s} {n}" for s, n in states) or "none"), file=sys.stderr)
    finally:
        engine.dispose()
    return 0


def cmd_serve(args, settings) -> int:
    """``pssync serve``: the web workbench."""
    import sqlalchemy as sa
    import uvicorn

    from workbench.web.app import create_app

    open_workflow(settings, "serve").dispose()  # a store that cannot be opened: one line, before the server starts
    app = create_app(settings)
    store = sa.engine.make_url(settings.workflow).render_as_string(hide_password=True)
    print(f"pssync workbench on http://{args.host}:{args.port} (workflow store {store})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def add_parsers(sub, with_settings) -> None:
    """The workbench's subcommands; ``with_settings(func)`` wraps a command so it receives the settings."""
    u = sub.add_parser(
        "users",
        help="workbench users, service accounts and API tokens (an admin's work)",
        description="add NAME --role ROLE: a person (password from PSSYNC_NEW_PASSWORD, else asked for) or, with "
        "--service, a service account that calls the API with tokens only; a name that exists is refused. "
        "token NAME [--days N]: a new API token (shown once, 90 days by default). list; tokens NAME|all; "
        "role NAME --role R; password NAME; disable NAME; enable NAME; revoke NAME|TOKEN_ID. Each is done by an "
        "admin proven as for any action (--as NAME with PSSYNC_PASSWORD, or PSSYNC_TOKEN); the first admin of a "
        "new store is added without one. A change of role or password, or a disablement, ends the user's sessions "
        "and voids their tokens.",
    )
    u.add_argument("action", choices=USER_ACTIONS)
    u.add_argument("name", nargs="?", default="all")
    u.add_argument("--role", choices=["finance", "delivery", "hr", "analyst", "admin"])
    u.add_argument("--service", action="store_true", help="a service account (no password)")
    u.add_argument("--days", type=int, default=90, help="token: days until it expires (1-366)")
    u.add_argument("--as", dest="actor", help="the admin who acts (proven by PSSYNC_PASSWORD or PSSYNC_TOKEN)")
    u.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    u.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE); the default store is beside it")
    u.set_defaults(func=with_settings(cmd_users))

    po = sub.add_parser(
        "policy",
        help="the approval policy in the workflow store: show, or set as an admin",
        description="show: every policy. set NAME VALUE --as ADMIN: dual_approval_above (the gross above which two "
        "finance people release a batch), dual_approval_above.<ENTITY> (one legal entity's), waiver_limit.<role> "
        "(the largest amount at risk a role waives). Each change is audited and sent as a policy.changed event; "
        "no environment variable of a deciding process changes them.",
    )
    po.add_argument("action", choices=["show", "set"])
    po.add_argument("name", nargs="?")
    po.add_argument("value", nargs="?")
    po.add_argument("--remove", action="store_true", help="set: drop an override or limit")
    po.add_argument("--as", dest="actor", help="the admin who acts (proven by PSSYNC_PASSWORD or PSSYNC_TOKEN)")
    po.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    po.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE); the default store is beside it")
    po.set_defaults(func=with_settings(cmd_policy))

    ev = sub.add_parser(
        "events",
        help="deliver business events now, retry dead-lettered ones, or list the newest",
        description="The outbox of business events (docs/workbench.md): deliver sends what is due to "
        "PSSYNC_WEBHOOK_URLS and PSSYNC_NATS_URL; retry puts dead-lettered deliveries back; list shows the newest.",
    )
    ev.add_argument("action", choices=["deliver", "retry", "list"])
    ev.add_argument("--limit", type=int, default=20)
    ev.add_argument(
        "--deadline", type=float, default=300, help="deliver: seconds the round may take; what is left waits"
    )
    ev.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    ev.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE); the default store is beside it")
    ev.set_defaults(func=with_settings(cmd_events))

    s = sub.add_parser(
        "serve",
        help="the web workbench (exceptions, batches, dashboard, /api/v1)",
        description="Server-rendered pages and a JSON API for finance, delivery, hr and analysts; sign in with a "
        "user made by `pssync users add` (make demo makes one per role). Sessions are signed with "
        "PSSYNC_WEB_SECRET.",
    )
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    s.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE)")
    s.add_argument("--output-dir", help="where the published snapshot is (PSSYNC_OUTPUT_DIR)")
    s.set_defaults(func=with_settings(cmd_serve))


def add_batch_actions(b: argparse.ArgumentParser) -> None:
    from workbench.batches import STATES

    b.add_argument("action", nargs="?", choices=["release", "reject", "status"])
    b.add_argument("key", nargs="?", help="release / reject / status: the batch id")
    b.add_argument(
        "--as", dest="actor", help="release / reject: the finance person who decides (PSSYNC_PASSWORD or PSSYNC_TOKEN)"
    )
    b.add_argument("--reason", help="reject: why (required); release: a note")
    b.add_argument("--state", choices=STATES, help="status: only batches in this state")
    b.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
