"""The workbench's command line: batch release, users and API tokens, event delivery, and the web server."""

from __future__ import annotations

import argparse
import json
import sys


def open_workflow(settings, command: str):
    """An engine on the workflow store, or one line naming the store and why it cannot be opened (SystemExit 2)."""
    import sqlalchemy as sa

    from workbench.store import open_store

    try:
        return open_store(settings.workflow)
    except Exception as exc:  # unreachable server, unwritable folder
        url = sa.engine.make_url(settings.workflow).render_as_string(hide_password=True)
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"pssync {command}: cannot open the workflow store {url}: {why}", file=sys.stderr)
        raise SystemExit(2) from None


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
        after = decide(engine, args.key, args.action, args.actor or "", now_utc(), args.reason, settings.dual_above())
    except ActionRefused as exc:
        print(f"pssync batches {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if after["state"] == "pending":
        print(f"{args.key}: first approval by {after['first_approver']}; a second finance user must release it")
    else:
        print(f"{args.key}: {after['state']}")
    return 0


def cmd_users(args, settings) -> int:
    """``pssync users add NAME --role R`` (password from PSSYNC_NEW_PASSWORD or a prompt), ``pssync users token``."""
    import getpass
    import os

    from assets.common import now_utc
    from workbench.users import UserError, add_user, issue_token

    engine = open_workflow(settings, f"users {args.action}")
    try:
        if args.action == "add":
            password = None
            if not args.service:
                password = os.environ.get("PSSYNC_NEW_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
            add_user(engine, args.name, args.role or "", password, now_utc())
            print(f"{args.name}: {args.role}" + (" (service account: API tokens only)" if args.service else ""))
        else:
            print(issue_token(engine, args.name, now_utc()))
    except UserError as exc:
        print(f"pssync users {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def cmd_events(args, settings) -> int:
    """``pssync events deliver|retry|list``."""
    import sqlalchemy as sa

    from assets.common import now_utc
    from workbench.events import deliver, retry_dead
    from workbench.store import event_deliveries, events

    engine = open_workflow(settings, f"events {args.action}")
    try:
        if args.action == "deliver":
            sinks = settings.sinks()
            if not sinks:
                print(
                    "pssync events deliver: no sink configured (PSSYNC_WEBHOOK_URLS, PSSYNC_NATS_URL)", file=sys.stderr
                )
                return 2
            print(json.dumps(deliver(engine, sinks, now_utc(), settings.event_max_attempts)))
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
    import uvicorn

    from workbench.web.app import create_app

    open_workflow(settings, "serve").dispose()  # a store that cannot be opened: one line, before the server starts
    app = create_app(settings)
    print(f"pssync workbench on http://{args.host}:{args.port} (workflow store {settings.workflow})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def add_parsers(sub, with_settings) -> None:
    """The workbench's subcommands; ``with_settings(func)`` wraps a command so it receives the settings."""
    u = sub.add_parser(
        "users",
        help="add a workbench user or service account, or issue an API token",
        description="add NAME --role ROLE: a person (password from PSSYNC_NEW_PASSWORD, else asked for) or, with "
        "--service, a service account that signs in with API tokens only. token NAME: a new API token (shown once).",
    )
    u.add_argument("action", choices=["add", "token"])
    u.add_argument("name")
    u.add_argument("--role", choices=["finance", "delivery", "hr", "analyst", "admin"])
    u.add_argument("--service", action="store_true", help="a service account (no password)")
    u.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
    u.add_argument("--warehouse", help="DuckDB warehouse file (PSSYNC_WAREHOUSE); the default store is beside it")
    u.set_defaults(func=with_settings(cmd_users))

    ev = sub.add_parser(
        "events",
        help="deliver business events now, retry dead-lettered ones, or list the newest",
        description="The outbox of business events (docs/workbench.md): deliver sends what is due to "
        "PSSYNC_WEBHOOK_URLS and PSSYNC_NATS_URL; retry puts dead-lettered deliveries back; list shows the newest.",
    )
    ev.add_argument("action", choices=["deliver", "retry", "list"])
    ev.add_argument("--limit", type=int, default=20)
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
    b.add_argument("--as", dest="actor", help="release / reject: the finance user who decides")
    b.add_argument("--reason", help="reject: why (required); release: a note")
    b.add_argument("--state", choices=STATES, help="status: only batches in this state")
    b.add_argument("--workflow-url", help="the workflow store (PSSYNC_WORKFLOW_URL)")
