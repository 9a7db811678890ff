"""Sign-in and sign-out, who the caller is, and the admin's page: users (disable, enable, revoke their tokens) and
the approval policy. Every change goes through the same functions as ``pssync users`` and ``pssync policy``,
audited there; other roles get 403."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from resources.clock import now_utc
from workbench import access
from workbench import users as people
from workbench.policy import PolicyError, all_policies, set_policy
from workbench.users import User
from workbench.web import schemas as S
from workbench.web.deps import ApiUser, PageUser, Wb, check_csrf, clean
from workbench.web.pages import flash, render

router = APIRouter()


def local(target: str, default: str) -> str:
    """A redirect target on this site only (no open redirect to another host)."""
    return target if target.startswith("/") and not target.startswith("//") else default


@router.get("/signin", include_in_schema=False)
def signin_page(request: Request, next: str = "/exceptions"):
    return render(request, "signin.html", {"next": local(next, "/")})


@router.post("/signin", include_in_schema=False)
def signin(
    request: Request,
    wb: Wb,
    username: str = Form(..., max_length=120),
    password: str = Form(..., max_length=1000),
    csrf: str = Form(""),
    next: str = Form("/exceptions"),
):
    check_csrf(request, csrf)
    clean(username, password)
    address = request.client.host if request.client else "?"
    try:
        user = people.sign_in(wb.engine, username, password, address, now_utc())
    except people.SignInRefused as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/signin", status_code=303)
    request.session.clear()  # a new session: no fixation
    request.session.update(sid=people.start_session(wb.engine, user, now_utc()), csrf=secrets.token_urlsafe(24))
    return RedirectResponse(local(next, "/exceptions"), status_code=303)


@router.post("/signout", include_in_schema=False)
def signout(request: Request, wb: Wb, csrf: str = Form("")):
    check_csrf(request, csrf)
    if isinstance(request.session.get("sid"), str):
        people.end_session(wb.engine, request.session["sid"], now_utc())
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


@router.get("/", include_in_schema=False)
def home(user: PageUser):
    return RedirectResponse("/exceptions", status_code=303)


def to_signin(request: Request, exc: Exception) -> RedirectResponse:
    """A page for a person not signed in: the sign-in page, then back to it."""
    return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)


@router.get("/api/v1/me", response_model=S.Me, tags=["access"], summary="Who the token or session belongs to")
def api_me(user: ApiUser):
    return {"username": user.username, "role": user.role}


def admin_of(user: User) -> User:
    access.require(people.is_admin(user), f"{user.role} does not manage users")
    return user


@router.get("/admin", include_in_schema=False)
def admin_page(request: Request, wb: Wb, user: PageUser):
    admin_of(user)
    return render(request, "admin.html", {"users": people.list_users(wb.engine), "policies": all_policies(wb.engine)})


@router.post("/admin/user", include_in_schema=False)
def admin_user(
    request: Request,
    wb: Wb,
    user: PageUser,
    username: str = Form(..., max_length=120),
    action: str = Form(..., max_length=20),
    csrf: str = Form(""),
):
    admin_of(user)
    check_csrf(request, csrf)
    change = {"disable": people.disable, "enable": people.enable}.get(action)
    try:
        if change is not None:
            if username == user.username:
                raise people.UserError("an admin does not disable themself here: another admin does")
            change(wb.engine, username, now_utc(), user.username)
            flash(request, f"{username}: {action}d")
        elif action == "revoke":
            revoked = people.revoke(wb.engine, username, now_utc(), user.username)
            flash(request, f"{username}: {revoked} token(s) revoked")
        else:
            flash(request, f"{action!r}: not an action", "error")
    except people.UserError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/policy", include_in_schema=False)
def admin_policy(
    request: Request,
    wb: Wb,
    user: PageUser,
    name: str = Form(..., max_length=120),
    value: str = Form(..., max_length=40),
    csrf: str = Form(""),
):
    admin_of(user)
    check_csrf(request, csrf)
    try:
        c = set_policy(wb.engine, name, value, user.username, now_utc())
        flash(request, f"{c['name']}: {c['before']} → {c['after']}")
    except PolicyError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse("/admin", status_code=303)
