"""The exceptions worklist, an exception's detail with its history, and a person's actions on it: as pages and as
the JSON API. What a role sees and may do is ``workbench/access.py``'s; the actions are ``workbench/lifecycle.py``'s."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse

from resources.clock import now_utc
from workbench import access
from workbench.lifecycle import WAIVER_REASONS, ActionRefused, act, history
from workbench.users import User
from workbench.web import data
from workbench.web import schemas as S
from workbench.web.deps import ApiUser, ApiWriter, PageUser, Wb, Workbench, check_csrf, clean
from workbench.web.pages import flash, render

router = APIRouter()
OWNERS = ("finance", "delivery", "hr", "integration")


def worklist(wb: Workbench, user: User, owner, state, rule, q, offset: int) -> tuple[list[dict], int]:
    """The exceptions the user's role sees, filtered, one page from ``offset``, and how many there are."""
    clean(owner, state, rule, q)
    if state and state not in data.STATES:
        raise HTTPException(422, f"state: one of {', '.join(data.STATES)}")
    if owner:
        access.require(access.may_see_exception(user.role, owner), f"{user.role} does not see {owner}'s exceptions")
    seen = access.owners_seen(user.role)
    return data.worklist(wb.engine, seen, now_utc(), owner, state, rule, q, offset=offset)


def exception_seen(wb: Workbench, user: User, key: str) -> dict:
    """One exception the user's role sees; 404 for one that does not exist and for one the role may not see alike."""
    clean(key)
    row = data.exception(wb.engine, key, now_utc())
    if row is None or not access.may_see_exception(user.role, row["owner"]):
        raise HTTPException(404, "no such exception")
    return row


def act_on(wb: Workbench, user: User, body: S.ExceptionAction) -> dict:
    clean(body.key, body.assignee, body.comment)
    row = exception_seen(wb, user, body.key)
    access.require(access.may_act_on_exception(user.role, row["owner"]), f"{user.role} cannot act on this exception")
    return act(
        wb.engine, body.key, body.action, user.username, now_utc(), body.assignee or None, body.reason, body.comment
    )


@router.get("/exceptions", include_in_schema=False)
def exceptions_page(
    request: Request,
    wb: Wb,
    user: PageUser,
    owner: str = Query("", max_length=40),
    state: str = Query("", max_length=20),
    rule: str = Query("", max_length=120),
    q: str = Query("", max_length=200),
    offset: int = Query(0, ge=0, le=10_000_000),
):
    rows, total = worklist(wb, user, owner or None, state or None, rule or None, q or None, offset)
    seen = access.owners_seen(user.role)
    return render(
        request,
        "exceptions.html",
        {
            "rows": rows,
            "total": total,
            "offset": offset,
            "page": data.PAGE,
            "filters": {"owner": owner, "state": state, "rule": rule, "q": q},
            "owners": seen or OWNERS,
            "states": data.STATES,
            "rules": data.rules(wb.engine, seen),
        },
    )


@router.get("/exception", include_in_schema=False)
def exception_page(request: Request, wb: Wb, user: PageUser, key: str):
    row = exception_seen(wb, user, key)
    return render(
        request,
        "exception.html",
        {
            "e": row,
            "history": history(wb.engine, key),
            "may_act": access.may_act_on_exception(user.role, row["owner"]),
            "reasons": WAIVER_REASONS,
        },
    )


@router.post("/exception/act", include_in_schema=False)
def exception_action(
    request: Request,
    wb: Wb,
    user: PageUser,
    key: str = Form(..., max_length=600),
    action: str = Form(...),
    assignee: str = Form("", max_length=120),
    reason: str = Form(""),
    comment: str = Form("", max_length=4000),
    csrf: str = Form(""),
):
    check_csrf(request, csrf)
    try:
        body = S.ExceptionAction.model_validate(
            {"key": key, "action": action, "assignee": assignee or None, "reason": reason or None}
            | {"comment": comment or None}
        )
    except ValueError:
        raise HTTPException(422, "not an action, or not a waiver reason") from None
    try:
        after = act_on(wb, user, body)
        flash(request, f"{action}: the exception is {after['state']}")
    except ActionRefused as exc:
        flash(request, str(exc), "error")
    return RedirectResponse(f"/exception?key={quote(key, safe='')}", status_code=303)


@router.get(
    "/api/v1/exceptions",
    response_model=S.ExceptionPage,
    tags=["exceptions"],
    summary="The exceptions the caller's role sees",
)
def api_exceptions(
    wb: Wb,
    user: ApiUser,
    owner: Literal["finance", "delivery", "hr", "integration"] | None = None,
    state: Literal["open", "acknowledged", "waived", "resolved"] | None = None,
    rule: str | None = Query(None, max_length=120, pattern=S.TEXT),
    q: str | None = Query(None, max_length=200, pattern=S.TEXT),
    offset: int = Query(0, ge=0, le=10_000_000),
):
    rows, total = worklist(wb, user, owner, state, rule, q, offset)
    return {"total": total, "offset": offset, "items": rows}


@router.get(
    "/api/v1/exception",
    response_model=S.ExceptionDetail,
    tags=["exceptions"],
    summary="One exception and its history",
)
def api_exception(wb: Wb, user: ApiUser, key: str = Query(..., min_length=1, max_length=600, pattern=S.TEXT)):
    return {**exception_seen(wb, user, key), "history": history(wb.engine, key)}


@router.post(
    "/api/v1/exception/actions",
    response_model=S.ExceptionState,
    tags=["exceptions"],
    summary="Acknowledge, assign, waive or comment",
)
def api_exception_action(body: S.ExceptionAction, wb: Wb, user: ApiWriter):
    try:
        return act_on(wb, user, body)
    except ActionRefused as exc:
        raise HTTPException(409, str(exc)) from None
