"""The admin's page: users (disable, enable, revoke their tokens) and the approval policy. Every change goes
through the same functions as ``pssync users`` and ``pssync policy``, audited there; other roles get 403."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse

from workbench import access
from workbench import users as people
from workbench.policy import PolicyError, all_policies, set_policy


def add_admin_routes(
    app: FastAPI, engine: sa.Engine, page_user: Callable, render: Callable, check_csrf: Callable, flash: Callable, now
) -> None:
    def admin(request: Request) -> dict:
        user = page_user(request)
        access.require(people.is_admin(user), f"{user['role']} does not manage users")
        return user

    @app.get("/admin", include_in_schema=False)
    def admin_page(request: Request):
        admin(request)
        return render(request, "admin.html", {"users": people.list_users(engine), "policies": all_policies(engine)})

    @app.post("/admin/user", include_in_schema=False)
    def admin_user(
        request: Request,
        username: str = Form(..., max_length=120),
        action: str = Form(..., max_length=20),
        csrf: str = Form(""),
    ):
        user = admin(request)
        check_csrf(request, csrf)
        change = {"disable": people.disable, "enable": people.enable}.get(action)
        try:
            if change is not None:
                if username == user["username"]:
                    raise people.UserError("an admin does not disable themself here: another admin does")
                change(engine, username, now(), user["username"])
                flash(request, f"{username}: {action}d")
            elif action == "revoke":
                flash(
                    request, f"{username}: {people.revoke(engine, username, now(), user['username'])} token(s) revoked"
                )
            else:
                flash(request, f"{action!r}: not an action", "error")
        except people.UserError as exc:
            flash(request, str(exc), "error")
        return RedirectResponse("/admin", status_code=303)

    @app.post("/admin/policy", include_in_schema=False)
    def admin_policy(
        request: Request,
        name: str = Form(..., max_length=120),
        value: str = Form(..., max_length=40),
        csrf: str = Form(""),
    ):
        user = admin(request)
        check_csrf(request, csrf)
        try:
            c = set_policy(engine, name, value, user["username"], now())
            flash(request, f"{c['name']}: {c['before']} → {c['after']}")
        except PolicyError as exc:
            flash(request, str(exc), "error")
        return RedirectResponse("/admin", status_code=303)
