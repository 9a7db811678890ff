"""The workbench's commands: actions on exceptions and batches, users and API tokens, the approval policy, and the
delivery of business events. Each acts in the workflow store as a proven person (`identity.acting_user`)."""

from __future__ import annotations

import getpass
import json
import os
import sys

import sqlalchemy as sa

from dagster_project.cli.common import command_settings
from dagster_project.cli.identity import NotProven, acting_user, open_workflow
from resources.clock import now_utc
from workbench import users as u
from workbench.batches import batch, batches, decide
from workbench.events import deliver, retry_dead, sinks_of
from workbench.lifecycle import ActionRefused, act, history
from workbench.policy import PolicyError, all_policies, set_policy
from workbench.store import event_deliveries, events


def cmd_exception_action(args) -> int:
    """``pssync exceptions ack|assign|waive|comment|history KEY``: a person's action in the workflow store."""
    settings = command_settings(args)
    if not args.key:
        print(
            f"pssync exceptions {args.action}: name the exception (layer|source|object|record_key|rule)",
            file=sys.stderr,
        )
        return 2
    engine = open_workflow(settings, f"exceptions {args.action}")
    try:
        if args.action == "history":
            for h in history(engine, args.key):
                print(json.dumps(h, default=str))
            return 0
        after = act(
            engine,
            args.key,
            args.action,
            acting_user(engine, args.actor),
            now_utc(),
            assignee=args.assignee,
            reason=args.reason,
            comment=args.comment,
        )
    except (ActionRefused, NotProven) as exc:
        print(f"pssync exceptions {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"{args.key}: {after['state']}" + (f" (assignee {after['assignee']})" if after.get("assignee") else ""))
    return 0


def cmd_batch_decision(args) -> int:
    """``pssync batches release|reject|status BATCH``."""
    engine = open_workflow(command_settings(args), f"batches {args.action}")
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


def cmd_users(args) -> int:
    """``pssync users add|token|list|tokens|role|password|disable|enable|revoke``: every one but the first admin's
    creation is done by an authenticated admin (``token`` and ``password``: also the user for themself)."""
    engine = open_workflow(command_settings(args), f"users {args.action}")
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


def cmd_policy(args) -> int:
    """``pssync policy show`` and ``pssync policy set NAME VALUE --as ADMIN`` (``--remove``: drop an override)."""
    engine = open_workflow(command_settings(args), f"policy {args.action}")
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


def cmd_events(args) -> int:
    """``pssync events deliver|retry|list``."""
    settings = command_settings(args)
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
