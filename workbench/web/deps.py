"""Who is asking, and what every route needs: the workflow store, the settings, the current user (typed
dependencies), CSRF tokens and the checks on text a database must store."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates

from resources.clock import now_utc
from resources.settings import PssyncSettings
from workbench import users as people
from workbench.users import User


@dataclass(frozen=True)
class Workbench:
    """What the app serves from: its workflow store, its settings (the outputs it reads) and its page templates."""

    engine: sa.Engine
    settings: PssyncSettings
    templates: Jinja2Templates


class NotSignedIn(Exception):
    """A page asked for by no signed-in person: answered with the sign-in page."""


def workbench(request: Request) -> Workbench:
    return request.app.state.workbench


Wb = Annotated[Workbench, Depends(workbench)]


def clean(*texts: str | None) -> None:
    """Text a database can store: no NUL, valid Unicode (else 422, not a server error)."""
    for t in texts:
        if t is None:
            continue
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            raise HTTPException(422, "text that is not valid Unicode") from None
        if "\x00" in t:
            raise HTTPException(422, "text with a NUL character")


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return request.session["csrf"]


def check_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def session_user(request: Request) -> User | None:
    """The signed-in person of a live server-side session (signing out, a change of role or password and a
    disablement end it for every copy of the cookie)."""
    sid = request.session.get("sid")
    user = people.session_user(workbench(request).engine, sid, now_utc()) if isinstance(sid, str) else None
    if user is None and sid:
        request.session.clear()
    return user


def page_user(request: Request) -> User:
    """The person a page is for; no one signed in: the sign-in page."""
    user = session_user(request)
    if not user:
        raise NotSignedIn()
    return user


bearer = HTTPBearer(auto_error=False, description="an API token from `pssync users token NAME`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def api_user(request: Request, credentials: Credentials) -> User:
    """The caller of the API: the user of a Bearer token, else of the session cookie (401 with neither)."""
    if credentials is not None:
        clean(credentials.credentials)
        user = people.user_for_token(workbench(request).engine, credentials.credentials, now_utc())
        if user is None:
            raise HTTPException(401, "unknown, expired or revoked API token")
        return user
    user = session_user(request)
    if not user:
        raise HTTPException(401, "sign in or send an API token")
    return user


def api_writer(request: Request, user: Annotated[User, Depends(api_user)]) -> User:
    """The caller of a change through the API: with the session cookie, the CSRF token in X-CSRF-Token too."""
    if user.via == "session":
        check_csrf(request, request.headers.get("x-csrf-token"))
    return user


PageUser = Annotated[User, Depends(page_user)]
ApiUser = Annotated[User, Depends(api_user)]
ApiWriter = Annotated[User, Depends(api_writer)]
