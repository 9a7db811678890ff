"""Who acts on the command line, proven, and the workflow store they act in."""

from __future__ import annotations

import getpass
import os
import socket
import sys

import sqlalchemy as sa

from resources.clock import now_utc
from resources.settings import PssyncSettings
from workbench.store import open_store
from workbench.users import SignInRefused, sign_in, user_for_token


def open_workflow(settings: PssyncSettings, command: str) -> sa.Engine:
    """An engine on the workflow store, or one line naming the store and why it cannot be opened (SystemExit 2)."""
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
        shown = url.render_as_string(hide_password=True)
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"pssync {command}: cannot open the workflow store {shown}: {why}", file=sys.stderr)
        raise SystemExit(2) from None


class NotProven(Exception):
    """The command line could not prove who acts; the message says what to give."""


def acting_user(engine: sa.Engine, actor: str | None) -> str:
    """Who acts, proven, never typed: the user of the API token in ``PSSYNC_TOKEN``, or ``--as NAME`` with that
    person's password (``PSSYNC_PASSWORD``, else asked for on a terminal). Wrong passwords count toward the same
    lockout as the web's sign-in. Raises ``NotProven``."""
    token = os.environ.get("PSSYNC_TOKEN", "").strip()
    if token:
        found = user_for_token(engine, token, now_utc())
        if found is None:
            raise NotProven("PSSYNC_TOKEN is no valid API token (unknown, expired, revoked, or its user changed)")
        if actor and actor != found.username:
            raise NotProven(f"--as {actor} but PSSYNC_TOKEN is {found.username}'s token")
        return found.username
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
