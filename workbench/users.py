"""The workbench's users and service accounts: one role each, passwords hashed with scrypt, API tokens stored as
their SHA-256 only (a token is shown once, when it is issued), with an expiry.

Roles and what each owns (the web pages and the API enforce it, docs/workbench.md):

* ``finance``: exceptions owned by finance and integration, billing batches (release, reject), cost rates;
* ``delivery``: exceptions owned by delivery; sees batches, never releases them, never sees HR cost rates;
* ``hr``: exceptions owned by hr, cost rates;
* ``analyst``: reads everything but HR cost rates, changes nothing;
* ``admin``: every exception, users, tokens and the approval policy; batch release stays with finance.

A person has a password; a service account has none and calls the API with tokens: it reads and syncs, and never
approves, releases, rejects or waives. A change of role or password and a disablement raise the user's
``auth_version``: every session and token of an older version is void from then on. Repeated wrong passwords lock
the user (and, past a higher count, the address they came from) for a while (``sign_in``); each lockout is audited.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from workbench.store import api_tokens, audit_trail, sign_in_failures, users, web_sessions, writing

ROLES = ("finance", "delivery", "hr", "analyst", "admin")
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,120}")
_N, _R, _P = 2**14, 8, 1
TOKEN_DAYS = 90  # an API token's life unless said otherwise
MAX_TOKEN_DAYS = 366
# wrong passwords before a lockout, and how long it lasts: per user, and per address (many users from one place)
USER_FAILURES, ADDRESS_FAILURES, LOCKOUT = 5, 20, timedelta(minutes=15)


class UserError(ValueError):
    """A user that cannot be added, changed or found; the message says why."""


class SignInRefused(ValueError):
    """A sign-in refused: wrong credentials, a disabled user or a lockout; the message says which."""


def hash_password(password: str) -> str:
    """scrypt (RFC 7914) with a random 16-byte salt; the parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    again = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(again.hex(), digest)


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise UserError("a password has at least 8 characters")
    if len(password) > 1000:
        raise UserError("a password has at most 1000 characters")


def _audit(con, now: datetime, actor: str, username: str, action: str, before: dict, after: dict) -> None:
    con.execute(
        audit_trail.insert().values(
            at=now,
            actor=actor,
            exception_key=f"user|{username}",
            action=action,
            before=json.dumps(before, sort_keys=True, default=str),
            after=json.dumps(after, sort_keys=True, default=str),
        )
    )


def add_user(
    engine: sa.Engine, username: str, role: str, password: str | None, now: datetime, actor: str = "pssync"
) -> None:
    """Add a person (with a password) or a service account (without: API tokens only). A name that exists is
    refused: a role or password changes only through ``set_role`` / ``set_password``, each audited."""
    if not USERNAME.fullmatch(username or ""):
        raise UserError(f"{username!r}: a user name is 1-120 letters, digits and . _ @ -")
    if role not in ROLES:
        raise UserError(f"{role!r}: not a role ({', '.join(ROLES)})")
    if password is not None:
        _check_password(password)
    with writing(engine) as con:
        if con.execute(sa.select(users.c.username).where(users.c.username == username)).first():
            raise UserError(f"{username!r} exists: change it with `pssync users role|password|disable`")
        con.execute(
            users.insert().values(
                username=username,
                role=role,
                password_hash=hash_password(password) if password is not None else None,
                created_at=now,
                auth_version=1,
            )
        )
        _audit(con, now, actor, username, "user_added", {}, {"role": role, "service": password is None})


def _change(engine: sa.Engine, username: str, now: datetime, actor: str, action: str, **values) -> None:
    """Change a user and void every session and token issued before (the auth version moves on)."""
    with writing(engine) as con:
        row = con.execute(sa.select(users).where(users.c.username == username)).first()
        if row is None:
            raise UserError(f"no user {username!r}")
        shown = {k: v for k, v in values.items() if k != "password_hash"}
        con.execute(
            users.update().where(users.c.username == username).values(**values, auth_version=users.c.auth_version + 1)
        )
        con.execute(
            web_sessions.update()
            .where((web_sessions.c.username == username) & web_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        if "password_hash" in values:  # a new password: the tokens issued under the old one go too
            con.execute(
                api_tokens.update()
                .where((api_tokens.c.username == username) & api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        _audit(con, now, actor, username, action, {k: getattr(row, k) for k in shown}, shown)


def set_role(engine: sa.Engine, username: str, role: str, now: datetime, actor: str) -> None:
    if role not in ROLES:
        raise UserError(f"{role!r}: not a role ({', '.join(ROLES)})")
    _change(engine, username, now, actor, "role_changed", role=role)


def set_password(engine: sa.Engine, username: str, password: str, now: datetime, actor: str) -> None:
    _check_password(password)
    _change(engine, username, now, actor, "password_changed", password_hash=hash_password(password))


def disable(engine: sa.Engine, username: str, now: datetime, actor: str) -> None:
    _change(engine, username, now, actor, "disabled", disabled_at=now)


def enable(engine: sa.Engine, username: str, now: datetime, actor: str) -> None:
    _change(engine, username, now, actor, "enabled", disabled_at=None)


def user(engine: sa.Engine, username: str) -> User | None:
    """An active user's name, role and whether a person (None: no such user, or disabled)."""
    with engine.connect() as con:
        return active(con, username)


@dataclass(frozen=True)
class User:
    """An active user: a person (signs in with a password) or a service account (API tokens only)."""

    username: str
    role: str
    person: bool
    auth_version: int | None = None  # what a session or token began under (a change of role or password bumps it)
    via: str | None = None  # how a web caller proved who they are: "session" or "token"


def active(con, username: str) -> User | None:
    """An active user inside the caller's transaction: name, role, ``person`` (has a password) and auth version."""
    row = con.execute(sa.select(users).where(users.c.username == username)).first()
    if row is None or row.disabled_at is not None:
        return None
    return User(row.username, row.role, row.password_hash is not None, row.auth_version)


def is_admin(who: User | None) -> bool:
    """Whether an active user (``active``, ``session_user``) is an admin person: who manages users and policy."""
    return who is not None and who.role == "admin" and who.person


def has_admin(engine: sa.Engine) -> bool:
    """Whether the store has an active admin person (none yet: the first may be added without one)."""
    t = users.c
    with engine.connect() as con:
        q = sa.select(t.username).where((t.role == "admin") & t.disabled_at.is_(None) & t.password_hash.is_not(None))
        return con.execute(q.limit(1)).first() is not None


def list_users(engine: sa.Engine) -> list[dict]:
    with engine.connect() as con:
        rows = con.execute(sa.select(users).order_by(users.c.username)).all()
        tokens: dict[str, int] = dict(
            con.execute(
                sa.select(api_tokens.c.username, sa.func.count())
                .where(api_tokens.c.revoked_at.is_(None))
                .group_by(api_tokens.c.username)
            ).all()
        )
    return [
        {
            "username": r.username,
            "role": r.role,
            "kind": "person" if r.password_hash else "service",
            "disabled_at": r.disabled_at,
            "created_at": r.created_at,
            "tokens": tokens.get(r.username, 0),
        }
        for r in rows
    ]


# ---- sign-in -------------------------------------------------------------------------------------------------------


def _locked_until(con, subject: str, now: datetime) -> datetime | None:
    row = con.execute(sa.select(sign_in_failures).where(sign_in_failures.c.subject == subject)).first()
    return row.locked_until if row is not None and row.locked_until and row.locked_until > now else None


def _fail(con, subject: str, limit: int, now: datetime) -> datetime | None:
    """Count a failure; past ``limit`` failures the subject is locked (each further one starts the lockout anew)."""
    t = sign_in_failures.c
    row = con.execute(sa.select(sign_in_failures).where(t.subject == subject)).first()
    failures = (row.failures if row is not None and now - row.last_failure_at < LOCKOUT * 4 else 0) + 1
    locked = now + LOCKOUT if failures >= limit else None
    values = dict(failures=failures, last_failure_at=now, locked_until=locked)
    if row is None:
        con.execute(sign_in_failures.insert().values(subject=subject, **values))
    else:
        con.execute(sign_in_failures.update().where(t.subject == subject).values(**values))
    return locked


@functools.cache
def _decoy() -> str:
    """A hash to check an unknown user's password against: one scrypt either way, so the time taken does not tell
    whether the user exists."""
    return hash_password(secrets.token_urlsafe(16))


def sign_in(engine: sa.Engine, username: str, password: str, address: str, now: datetime) -> User:
    """The active person whose password this is; else ``SignInRefused``. After ``USER_FAILURES`` wrong passwords
    for a user, or ``ADDRESS_FAILURES`` from one address, sign-in is refused for ``LOCKOUT`` even with the right
    password (the same work whether or not the user exists; lockouts are audited)."""
    subjects = (f"user:{username}", f"addr:{address}")
    with engine.connect() as con:
        locked = [_locked_until(con, s, now) for s in subjects]
        row = con.execute(sa.select(users).where(users.c.username == username)).first()
    ok = verify_password(password, row.password_hash if row and row.password_hash else _decoy())
    if any(locked):
        raise SignInRefused(f"too many failed sign-ins: try again after {max(d for d in locked if d):%H:%M} UTC")
    if row is not None and ok and row.disabled_at is None:
        with writing(engine) as con:
            con.execute(sign_in_failures.delete().where(sign_in_failures.c.subject == subjects[0]))
        return User(row.username, row.role, person=True, auth_version=row.auth_version)
    with writing(engine) as con:
        for subject, limit in zip(subjects, (USER_FAILURES, ADDRESS_FAILURES)):
            if _fail(con, subject, limit, now):
                _audit(con, now, "pssync", subject, "locked_out", {}, {"until": now + LOCKOUT})
    raise SignInRefused("wrong user name or password" if row is None or not ok else f"{username} is disabled")


# ---- API tokens ----------------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(engine: sa.Engine, username: str, now: datetime, days: int = TOKEN_DAYS, actor: str = "pssync") -> str:
    """A new API token for an active user or service account, valid ``days``; only its hash is kept."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise UserError(f"a token lives 1 to {MAX_TOKEN_DAYS} days, not {days}")
    token = "pss_" + secrets.token_urlsafe(32)
    with writing(engine) as con:
        found = active(con, username)
        if found is None:
            raise UserError(f"no active user {username!r}")
        expires = now + timedelta(days=days)
        con.execute(
            api_tokens.insert().values(
                token_hash=token_hash(token),
                username=username,
                created_at=now,
                expires_at=expires,
                auth_version=found.auth_version,
            )
        )
        _audit(con, now, actor, username, "token_issued", {}, {"token_id": token_hash(token)[:12], "expires": expires})
    return token


def list_tokens(engine: sa.Engine, username: str | None = None) -> list[dict]:
    t = api_tokens.c
    q = sa.select(t.token_hash, t.username, t.created_at, t.expires_at, t.revoked_at).order_by(t.created_at)
    if username:
        q = q.where(t.username == username)
    with engine.connect() as con:
        return [
            {"token_id": r.token_hash[:12], **{k: v for k, v in r._mapping.items() if k != "token_hash"}}
            for r in con.execute(q)
        ]


def revoke(engine: sa.Engine, what: str, now: datetime, actor: str) -> int:
    """Revoke one token (its id, the first 12 hex digits of its hash, as ``list_tokens`` shows) or every token of a
    user (the user's name). Returns how many were revoked."""
    t = api_tokens.c
    which = (
        t.username == what
        if USERNAME.fullmatch(what) and not re.fullmatch(r"[0-9a-f]{12}", what)
        else (t.token_hash.startswith(what))
    )
    with writing(engine) as con:
        n = con.execute(api_tokens.update().where(which & t.revoked_at.is_(None)).values(revoked_at=now)).rowcount
        if n:
            _audit(con, now, actor, what, "token_revoked", {}, {"revoked": n})
    return n


def user_for_token(engine: sa.Engine, token: str, now: datetime) -> User | None:
    """The active user of a token that is neither revoked, expired nor older than the user's last change."""
    t = api_tokens.c
    with engine.connect() as con:
        row = con.execute(
            sa.select(users.c.username, users.c.role, users.c.password_hash, t.expires_at)
            .join(api_tokens, t.username == users.c.username)
            .where(
                (t.token_hash == token_hash(token))
                & t.revoked_at.is_(None)
                & users.c.disabled_at.is_(None)
                & (t.auth_version == users.c.auth_version)
            )
        ).first()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return User(row.username, row.role, row.password_hash is not None, via="token")


# ---- web sessions --------------------------------------------------------------------------------------------------

SESSION_LIFE = timedelta(hours=8)


def start_session(engine: sa.Engine, signed_in: User, now: datetime) -> str:
    """A new server-side session for a person who just signed in; the cookie carries only its id."""
    sid = secrets.token_urlsafe(32)
    with writing(engine) as con:
        con.execute(
            web_sessions.insert().values(
                session_id=sid,
                username=signed_in.username,
                auth_version=signed_in.auth_version,
                created_at=now,
                expires_at=now + SESSION_LIFE,
            )
        )
    return sid


def session_user(engine: sa.Engine, sid: str, now: datetime) -> User | None:
    """The user of a live session: not ended (signed out), not expired, and their role, password and standing the
    same as when it began (else None: every copy of the cookie is void)."""
    s = web_sessions.c
    with engine.connect() as con:
        row = con.execute(
            sa.select(users.c.username, users.c.role, users.c.password_hash)
            .join(web_sessions, s.username == users.c.username)
            .where(
                (s.session_id == sid)
                & s.ended_at.is_(None)
                & (s.expires_at > now)
                & users.c.disabled_at.is_(None)
                & (s.auth_version == users.c.auth_version)
            )
        ).first()
    return User(row.username, row.role, row.password_hash is not None, via="session") if row else None


def end_session(engine: sa.Engine, sid: str, now: datetime) -> None:
    with writing(engine) as con:
        con.execute(
            web_sessions.update()
            .where((web_sessions.c.session_id == sid) & web_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )
