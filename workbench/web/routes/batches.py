"""Billing batches: the list, one batch with its lines (the bytes of its emitted file) and its history, and a
finance person's release or rejection, as pages and as the JSON API. Who decides, dual approval and the
compare-and-set are ``workbench/batches.py``'s."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from resources.batch_files import BATCH_ID
from resources.clock import now_utc
from workbench import access
from workbench import batches as batch_store
from workbench.batch_states import STATES
from workbench.lifecycle import ActionRefused, history
from workbench.policy import dual_above
from workbench.users import User
from workbench.web import data
from workbench.web import schemas as S
from workbench.web.deps import ApiUser, ApiWriter, PageUser, Wb, Workbench, check_csrf, clean
from workbench.web.pages import flash, render

router = APIRouter()


def may_see_batches(user: User) -> None:
    access.require(user.role in access.BATCH_VIEWERS, f"{user.role} does not see billing batches")


def batch_seen(wb: Workbench, user: User, batch_id: str) -> dict:
    may_see_batches(user)
    row = batch_store.batch(wb.engine, batch_id) if BATCH_ID.fullmatch(batch_id) else None
    if row is None:
        raise HTTPException(404, "no such batch")
    return row


def decide(wb: Workbench, user: User, batch_id: str, body: S.BatchDecision) -> dict:
    clean(body.reason)
    batch_seen(wb, user, batch_id)
    access.require(user.role in access.BATCH_DECIDERS, f"{user.role} cannot release or reject batches")
    return batch_store.decide(wb.engine, batch_id, body.decision, user.username, now_utc(), body.reason)


@router.get("/batches", include_in_schema=False)
def batches_page(request: Request, wb: Wb, user: PageUser, state: str = ""):
    may_see_batches(user)
    if state and state not in STATES:
        raise HTTPException(422, "state: pending, released or rejected")
    return render(request, "batches.html", {"rows": batch_store.batches(wb.engine, state or None), "state": state})


@router.get("/batch/{batch_id}", include_in_schema=False)
def batch_page(request: Request, wb: Wb, user: PageUser, batch_id: str):
    row = batch_seen(wb, user, batch_id)
    with wb.engine.connect() as con:
        threshold = dual_above(con, row["legal_entity"])
    return render(
        request,
        "batch.html",
        {
            "b": row,
            "lines": data.batch_lines(wb.settings.outputs, batch_id),
            "history": history(wb.engine, batch_store.subject(batch_id)),
            "may_decide": user.role in access.BATCH_DECIDERS
            and row["state"] == "pending"
            and row["first_approver"] != user.username,
            "dual_above": threshold,
        },
    )


@router.post("/batch/{batch_id}/decide", include_in_schema=False)
def batch_decision(
    request: Request,
    wb: Wb,
    user: PageUser,
    batch_id: str,
    decision: str = Form(...),
    reason: str = Form("", max_length=2000),
    csrf: str = Form(""),
):
    check_csrf(request, csrf)
    if decision not in batch_store.DECISIONS:
        raise HTTPException(422, "decision: release or reject")
    try:
        after = decide(
            wb, user, batch_id, S.BatchDecision.model_validate({"decision": decision, "reason": reason or None})
        )
        text = (
            f"first approval recorded: a second finance user must release {batch_id}"
            if after["state"] == "pending"
            else f"{batch_id} is {after['state']}"
        )
        flash(request, text)
    except ActionRefused as exc:
        flash(request, str(exc), "error")
    return RedirectResponse(f"/batch/{batch_id}", status_code=303)


@router.get(
    "/api/v1/batches",
    response_model=list[S.Batch],
    tags=["batches"],
    summary="Billing batches and their release state",
)
def api_batches(wb: Wb, user: ApiUser, state: Literal["pending", "released", "rejected"] | None = None):
    may_see_batches(user)
    return batch_store.batches(wb.engine, state)


@router.get(
    "/api/v1/batches/{batch_id}", response_model=S.BatchDetail, tags=["batches"], summary="One batch with its lines"
)
def api_batch(wb: Wb, user: ApiUser, batch_id: str = PathParam(..., max_length=80)):
    return {**batch_seen(wb, user, batch_id), "lines": data.batch_lines(wb.settings.outputs, batch_id)}


@router.post(
    "/api/v1/batches/{batch_id}/decision",
    response_model=S.Batch,
    tags=["batches"],
    summary="Release or reject a pending batch",
)
def api_batch_decision(body: S.BatchDecision, wb: Wb, user: ApiWriter, batch_id: str = PathParam(..., max_length=80)):
    try:
        return decide(wb, user, batch_id, body)
    except ActionRefused as exc:
        raise HTTPException(409, str(exc)) from None
