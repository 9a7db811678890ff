"""The workbench's users and service accounts: one role each, passwords hashed with scrypt, API tokens stored as
their SHA-256 only (a token is shown once, when it is issued).

Roles and what each owns (the web pages and the API enforce it, docs/workbench.md):

* ``finance``: exceptions owned by finance and integration, billing batches (release, reject), cost rates;
* ``delivery``: exceptions owned by delivery; sees batches, never releases them, never sees HR cost rates;
* ``hr``: exceptions owned by hr, cost rates;
* ``analyst``: reads everything but HR cost rates, changes nothing;
* ``admin``: every exception, users and tokens; batch release stays with finance.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import sqlalchemy as sa

from workbench.store import api_tokens, users

ROLES = ("finance", "delivery", "hr", "analyst", "admin")
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,120}")
_N, _R, _P = 2**14, 8, 1


class UserError(ValueError):
    """A user that cannot be added or found; the message says why."""


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


def add_user(engine: sa.Engine, username: str, role: str, password: str | None, now: datetime) -> None:
    """Add a person (with a password) or a service account (without: API tokens only); an existing user gets the
    new role and password."""
    if not USERNAME.fullmatch(username or ""):
        raise UserError(f"{username!r}: a user name is 1-120 letters, digits and . _ @ -")
    if role not in ROLES:
        raise UserError(f"{role!r}: not a role ({', '.join(ROLES)})")
    if password is not None and len(password) < 8:
        raise UserError("a password has at least 8 characters")
    values = dict(role=role, password_hash=hash_password(password) if password is not None else None)
    with engine.begin() as con:
        if con.execute(sa.select(users.c.username).where(users.c.username == username)).first():
            con.execute(users.update().where(users.c.username == username).values(**values))
        else:
            con.execute(users.insert().values(username=username, created_at=now, **values))


def user(engine: sa.Engine, username: str) -> dict | None:
    with engine.connect() as con:
        row = con.execute(sa.select(users.c.username, users.c.role).where(users.c.username == username)).first()
    return dict(row._mapping) if row else None


def role_of(con, username: str) -> str | None:
    """The role of a user inside the caller's transaction (None: no such user)."""
    return con.execute(sa.select(users.c.role).where(users.c.username == username)).scalar()


def authenticate(engine: sa.Engine, username: str, password: str) -> dict | None:
    """The user whose password this is, else None (the same work whether or not the user exists)."""
    with engine.connect() as con:
        row = con.execute(sa.select(users).where(users.c.username == username)).first()
    ok = verify_password(password, row.password_hash if row else hash_password("-"))
    return {"username": row.username, "role": row.role} if row and ok else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(engine: sa.Engine, username: str, now: datetime) -> str:
    """A new API token for a user or service account; only its hash is kept."""
    if user(engine, username) is None:
        raise UserError(f"no user {username!r}")
    token = "pss_" + secrets.token_urlsafe(32)
    with engine.begin() as con:
        con.execute(api_tokens.insert().values(token_hash=_token_hash(token), username=username, created_at=now))
    return token


def user_for_token(engine: sa.Engine, token: str) -> dict | None:
    with engine.connect() as con:
        row = con.execute(
            sa.select(users.c.username, users.c.role)
            .join(api_tokens, api_tokens.c.username == users.c.username)
            .where(api_tokens.c.token_hash == _token_hash(token))
        ).first()
    return dict(row._mapping) if row else None
