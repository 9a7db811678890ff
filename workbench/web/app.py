"""The web workbench: sign-in, the exceptions worklist and an exception's detail with its actions, billing batches
with release and reject, a dashboard; and the versioned JSON API under ``/api/v1`` with its OpenAPI document at
``/api/v1/openapi.json``.

Pages are rendered on the server from local templates and one local stylesheet (no CDN, no script). A person signs
in with a password (scrypt); the session is a cookie signed with ``PSSYNC_WEB_SECRET``; every form carries the
session's CSRF token and a post without it is refused. Service accounts call the API with ``Authorization: Bearer``
tokens (``pssync users token``). What a role may see and do is in ``workbench/web/access.py``.
"""

import hmac
import json
import secrets
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

import jinja2
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.middleware.sessions import SessionMiddleware

from resources.batch_files import BATCH_ID
from resources.clock import now_utc
from resources.settings import secret as env_secret
from workbench import access
from workbench import batches as batch_store
from workbench import users as people
from workbench.lifecycle import WAIVER_REASONS, ActionRefused, act, history
from workbench.policy import dual_above
from workbench.store import open_store
from workbench.web import data
from workbench.web import schemas as S  # noqa: N812 - short, read as a namespace
from workbench.web.admin import add_admin_routes
from workbench.web.guard import Guard

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


# text a database can store, as the API's schema says: no NUL character (``clean`` checks that and valid Unicode)
TEXT = r"^[^\x00]*$"


class NotSignedIn(Exception):
    pass


class ExceptionAction(BaseModel):
    """A person's action on one exception (the key is layer|source|object|record_key|rule)."""

    key: str = Field(min_length=1, max_length=600, pattern=TEXT)
    action: Literal["ack", "assign", "waive", "comment"]
    assignee: str | None = Field(None, max_length=120, pattern=TEXT)
    reason: Literal[WAIVER_REASONS] | None = None  # type: ignore[valid-type]
    comment: str | None = Field(None, max_length=4000, pattern=TEXT)


class BatchDecision(BaseModel):
    """A finance user's decision on a pending batch."""

    decision: Literal["release", "reject"]
    reason: str | None = Field(None, max_length=2000, pattern=TEXT)


def plain(value):
    """JSON for the API: money as exact decimal strings (never floats), dates as ISO text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def change(entry: dict) -> str:
    """What an audit-trail entry changed, as 'state: open -> acknowledged; assignee: - -> fiona'."""
    before, after = json.loads(entry["before"] or "{}"), json.loads(entry["after"] or "{}")
    shown = ("state", "assignee", "waiver_reason", "owner", "message")
    parts = [f"{k}: {before.get(k) or '–'} → {after.get(k) or '–'}" for k in shown if before.get(k) != after.get(k)]
    return "; ".join(parts) or "no change of state"


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


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


# every status an API operation may answer besides its success, documented so that clients (and schemathesis) can
# rely on the document
PROBLEMS = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (401, "no valid session or token"),
        (403, "the caller's role may not do this"),
        (404, "no such thing, or not one the role sees"),
        (409, "the state does not allow it (already decided, changed meanwhile)"),
        (411, "a body without its length"),
        (413, "a body over the limit"),
        (422, "a parameter or body that is not valid"),
        (429, "too many requests: see Retry-After"),
    )
}


def ok(model) -> dict:
    """The success answer of an API operation, documented (the routes return JSONResponse, so FastAPI adds none)."""
    return {200: {"model": model, "description": "the answer"}}


def create_app(
    settings, secret: str | None = None, per_second: float = 20, burst: int = 100, max_body: int | None = None
) -> FastAPI:
    """The workbench for the settings' workflow store and outputs; ``per_second`` and ``burst``: the rate limit per
    address and per token (workbench/web/guard.py)."""
    engine = open_store(settings.workflow)
    secret = secret or env_secret("PSSYNC_WEB_SECRET") or secrets.token_urlsafe(32)
    app = FastAPI(
        title="pssync workbench API",
        version="1.0.0",
        description="Exceptions, billing batches and figures of pssync, for portals and dashboards. Authenticate "
        "with `Authorization: Bearer <token>` (`pssync users token NAME`).",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN: not served
        redoc_url=None,
        responses=PROBLEMS,
    )
    app.add_middleware(
        SessionMiddleware, secret_key=secret, session_cookie="pssync_session", max_age=8 * 3600, same_site="strict"
    )
    app.add_middleware(Guard, per_second=per_second, burst=burst, **({"max_body": max_body} if max_body else {}))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    env.filters["money"] = lambda v: "" if v is None else f"{v:,.2f}"
    env.filters["pct"] = lambda v: "–" if v is None else f"{float(v):.1%}"
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M UTC") if isinstance(v, datetime) else (v or "")
    env.filters["change"] = change
    templates = Jinja2Templates(env=env)
    bearer = HTTPBearer(auto_error=False, description="an API token from `pssync users token NAME`")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if request.url.scheme == "https":  # served over HTTPS (directly or behind a proxy that says so)
            cookies = response.headers.getlist("set-cookie")
            if cookies:
                del response.headers["set-cookie"]
                for c in cookies:
                    response.headers.append("set-cookie", c if "; secure" in c.lower() else f"{c}; Secure")
        return response

    # ---- who is asking -------------------------------------------------------------------------------------------

    def csrf_token(request: Request) -> str:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(24)
        return request.session["csrf"]

    def check_csrf(request: Request, sent: str | None) -> None:
        expected = request.session.get("csrf")
        if not expected or not sent or not hmac.compare_digest(expected, sent):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")

    def session_user(request: Request) -> dict | None:
        """The signed-in person of a live server-side session (signing out, a change of role or password and a
        disablement end it for every copy of the cookie)."""
        sid = request.session.get("sid")
        user = people.session_user(engine, sid, now_utc()) if isinstance(sid, str) else None
        if user is None and sid:
            request.session.clear()
        return user

    def page_user(request: Request) -> dict:
        user = session_user(request)
        if not user:
            raise NotSignedIn()
        return user

    Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]  # noqa: N806 - a type

    def api_user(request: Request, credentials: Credentials) -> dict:
        if credentials is not None:
            clean(credentials.credentials)
            user = people.user_for_token(engine, credentials.credentials, now_utc())
            if user is None:
                raise HTTPException(401, "unknown, expired or revoked API token")
            return {**user, "via": "token"}
        user = session_user(request)
        if not user:
            raise HTTPException(401, "sign in or send an API token")
        return {**user, "via": "session"}

    ApiUser = Annotated[dict, Depends(api_user)]  # noqa: N806 - a type

    def api_write(request: Request, user: dict) -> None:
        """A change through the API with the session cookie needs the CSRF token in X-CSRF-Token."""
        if user["via"] == "session":
            check_csrf(request, request.headers.get("x-csrf-token"))

    @app.exception_handler(NotSignedIn)
    async def to_signin(request: Request, exc: NotSignedIn):
        return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(access.Refused)
    async def refused(request: Request, exc: access.Refused):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=403)
        return render(request, "error.html", {"title": "Not allowed", "message": str(exc)}, status=403)

    def render(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
        flash = request.session.pop("flash", None)
        return templates.TemplateResponse(
            request,
            name,
            {"user": session_user(request), "csrf": csrf_token(request), "flash": flash, **context},
            status_code=status,
        )

    def flash(request: Request, text: str, kind: str = "info") -> None:
        request.session["flash"] = {"kind": kind, "text": text}

    # ---- sign-in -------------------------------------------------------------------------------------------------

    @app.get("/signin", include_in_schema=False)
    def signin_page(request: Request, next: str = "/exceptions"):
        return render(
            request, "signin.html", {"next": next if next.startswith("/") and not next.startswith("//") else "/"}
        )

    @app.post("/signin", include_in_schema=False)
    def signin(
        request: Request,
        username: str = Form(..., max_length=120),
        password: str = Form(..., max_length=1000),
        csrf: str = Form(""),
        next: str = Form("/exceptions"),
    ):
        check_csrf(request, csrf)
        clean(username, password)
        address = request.client.host if request.client else "?"
        try:
            user = people.sign_in(engine, username, password, address, now_utc())
        except people.SignInRefused as exc:
            flash(request, str(exc), "error")
            return RedirectResponse("/signin", status_code=303)
        request.session.clear()  # a new session: no fixation
        request.session.update(sid=people.start_session(engine, user, now_utc()), csrf=secrets.token_urlsafe(24))
        target = next if next.startswith("/") and not next.startswith("//") else "/exceptions"
        return RedirectResponse(target, status_code=303)

    @app.post("/signout", include_in_schema=False)
    def signout(request: Request, csrf: str = Form("")):
        check_csrf(request, csrf)
        if isinstance(request.session.get("sid"), str):
            people.end_session(engine, request.session["sid"], now_utc())
        request.session.clear()
        return RedirectResponse("/signin", status_code=303)

    @app.get("/", include_in_schema=False)
    def home(request: Request):
        page_user(request)
        return RedirectResponse("/exceptions", status_code=303)

    # ---- exceptions ----------------------------------------------------------------------------------------------

    def _worklist(user, owner, state, rule, q, offset):
        clean(owner, state, rule, q)
        if state and state not in data.STATES:
            raise HTTPException(422, f"state: one of {', '.join(data.STATES)}")
        seen = access.owners_seen(user["role"])
        if owner:
            access.require(
                access.may_see_exception(user["role"], owner), f"{user['role']} does not see {owner}'s exceptions"
            )
        return data.worklist(engine, seen, now_utc(), owner, state, rule, q, offset=offset)

    @app.get("/exceptions", include_in_schema=False)
    def exceptions_page(
        request: Request,
        owner: str = Query("", max_length=40),
        state: str = Query("", max_length=20),
        rule: str = Query("", max_length=120),
        q: str = Query("", max_length=200),
        offset: int = Query(0, ge=0, le=10_000_000),
    ):
        user = page_user(request)
        rows, total = _worklist(user, owner or None, state or None, rule or None, q or None, offset)
        seen = access.owners_seen(user["role"])
        return render(
            request,
            "exceptions.html",
            {
                "rows": rows,
                "total": total,
                "offset": offset,
                "page": data.PAGE,
                "filters": {"owner": owner, "state": state, "rule": rule, "q": q},
                "owners": seen or ("finance", "delivery", "hr", "integration"),
                "states": data.STATES,
                "rules": data.rules(engine, seen),
            },
        )

    def _exception(user, key: str) -> dict:
        clean(key)
        row = data.exception(engine, key, now_utc())
        if row is None or not access.may_see_exception(user["role"], row["owner"]):
            raise HTTPException(404, "no such exception")  # the same answer for one the role may not see
        return row

    @app.get("/exception", include_in_schema=False)
    def exception_page(request: Request, key: str):
        user = page_user(request)
        row = _exception(user, key)
        return render(
            request,
            "exception.html",
            {
                "e": row,
                "history": history(engine, key),
                "may_act": access.may_act_on_exception(user["role"], row["owner"]),
                "reasons": WAIVER_REASONS,
            },
        )

    def _act(user, body: ExceptionAction) -> dict:
        clean(body.key, body.assignee, body.comment)
        row = _exception(user, body.key)
        access.require(
            access.may_act_on_exception(user["role"], row["owner"]), f"{user['role']} cannot act on this exception"
        )
        return act(
            engine, body.key, body.action, user["username"], now_utc(), body.assignee or None, body.reason, body.comment
        )

    @app.post("/exception/act", include_in_schema=False)
    def exception_action(
        request: Request,
        key: str = Form(..., max_length=600),
        action: str = Form(...),
        assignee: str = Form("", max_length=120),
        reason: str = Form(""),
        comment: str = Form("", max_length=4000),
        csrf: str = Form(""),
    ):
        user = page_user(request)
        check_csrf(request, csrf)
        try:
            body = ExceptionAction(
                key=key, action=action, assignee=assignee or None, reason=reason or None, comment=comment or None
            )
        except ValueError:
            raise HTTPException(422, "not an action, or not a waiver reason") from None
        try:
            after = _act(user, body)
            flash(request, f"{action}: the exception is {after['state']}")
        except ActionRefused as exc:
            flash(request, str(exc), "error")
        return RedirectResponse(f"/exception?key={quote(key, safe='')}", status_code=303)

    # ---- batches -------------------------------------------------------------------------------------------------

    def _batch(user, batch_id: str) -> dict:
        access.require(user["role"] in access.BATCH_VIEWERS, f"{user['role']} does not see billing batches")
        row = batch_store.batch(engine, batch_id) if BATCH_ID.fullmatch(batch_id) else None
        if row is None:
            raise HTTPException(404, "no such batch")
        return row

    @app.get("/batches", include_in_schema=False)
    def batches_page(request: Request, state: str = ""):
        user = page_user(request)
        access.require(user["role"] in access.BATCH_VIEWERS, f"{user['role']} does not see billing batches")
        if state and state not in batch_store.STATES:
            raise HTTPException(422, "state: pending, released or rejected")
        return render(request, "batches.html", {"rows": batch_store.batches(engine, state or None), "state": state})

    @app.get("/batch/{batch_id}", include_in_schema=False)
    def batch_page(request: Request, batch_id: str):
        user = page_user(request)
        row = _batch(user, batch_id)
        return render(
            request,
            "batch.html",
            {
                "b": row,
                "lines": data.batch_lines(settings.outputs, batch_id),
                "history": history(engine, batch_store.subject(batch_id)),
                "may_decide": user["role"] in access.BATCH_DECIDERS
                and row["state"] == "pending"
                and row["first_approver"] != user["username"],
                "dual_above": _threshold(row["legal_entity"]),
            },
        )

    def _decide(user, batch_id: str, body: BatchDecision) -> dict:
        clean(body.reason)
        _batch(user, batch_id)
        access.require(user["role"] in access.BATCH_DECIDERS, f"{user['role']} cannot release or reject batches")
        return batch_store.decide(engine, batch_id, body.decision, user["username"], now_utc(), body.reason)

    def _threshold(legal_entity: str):
        with engine.connect() as con:
            return dual_above(con, legal_entity)

    @app.post("/batch/{batch_id}/decide", include_in_schema=False)
    def batch_decision(
        request: Request,
        batch_id: str,
        decision: str = Form(...),
        reason: str = Form("", max_length=2000),
        csrf: str = Form(""),
    ):
        user = page_user(request)
        check_csrf(request, csrf)
        if decision not in batch_store.DECISIONS:
            raise HTTPException(422, "decision: release or reject")
        try:
            after = _decide(user, batch_id, BatchDecision(decision=decision, reason=reason or None))
            text = (
                f"first approval recorded: a second finance user must release {batch_id}"
                if after["state"] == "pending"
                else f"{batch_id} is {after['state']}"
            )
            flash(request, text)
        except ActionRefused as exc:
            flash(request, str(exc), "error")
        return RedirectResponse(f"/batch/{batch_id}", status_code=303)

    # ---- dashboard -----------------------------------------------------------------------------------------------

    @app.get("/dashboard", include_in_schema=False)
    def dashboard_page(request: Request):
        user = page_user(request)
        figures = data.dashboard(settings.outputs, user["role"] in access.COST_VIEWERS)
        top = max((r["leakage"] for r in figures.get("leakage", [])), default=Decimal(1)) or Decimal(1)
        return render(request, "dashboard.html", {"f": figures, "top_leakage": top})

    # ---- the JSON API --------------------------------------------------------------------------------------------

    @app.get("/api/v1/me", responses=ok(S.Me), tags=["access"], summary="Who the token or session belongs to")
    def api_me(user: ApiUser):
        return {"username": user["username"], "role": user["role"]}

    @app.get(
        "/api/v1/exceptions",
        responses=ok(S.ExceptionPage),
        tags=["exceptions"],
        summary="The exceptions the caller's role sees",
    )
    def api_exceptions(
        user: ApiUser,
        owner: Literal["finance", "delivery", "hr", "integration"] | None = None,
        state: Literal["open", "acknowledged", "waived", "resolved"] | None = None,
        rule: str | None = Query(None, max_length=120, pattern=TEXT),
        q: str | None = Query(None, max_length=200, pattern=TEXT),
        offset: int = Query(0, ge=0, le=10_000_000),
    ):
        rows, total = _worklist(user, owner, state, rule, q, offset)
        return JSONResponse(plain({"total": total, "offset": offset, "items": rows}))

    @app.get(
        "/api/v1/exception",
        responses=ok(S.ExceptionDetail),
        tags=["exceptions"],
        summary="One exception and its history",
    )
    def api_exception(user: ApiUser, key: str = Query(..., min_length=1, max_length=600, pattern=TEXT)):
        row = _exception(user, key)
        return JSONResponse(plain({**row, "history": history(engine, key)}))

    @app.post(
        "/api/v1/exception/actions",
        responses=ok(S.ExceptionState),
        tags=["exceptions"],
        summary="Acknowledge, assign, waive or comment",
    )
    def api_exception_action(body: ExceptionAction, request: Request, user: ApiUser):
        api_write(request, user)
        try:
            return JSONResponse(plain(_act(user, body)))
        except ActionRefused as exc:
            raise HTTPException(409, str(exc)) from None

    @app.get(
        "/api/v1/batches",
        responses=ok(list[S.Batch]),
        tags=["batches"],
        summary="Billing batches and their release state",
    )
    def api_batches(user: ApiUser, state: Literal["pending", "released", "rejected"] | None = None):
        access.require(user["role"] in access.BATCH_VIEWERS, f"{user['role']} does not see billing batches")
        return JSONResponse(plain(batch_store.batches(engine, state)))

    @app.get(
        "/api/v1/batches/{batch_id}", responses=ok(S.BatchDetail), tags=["batches"], summary="One batch with its lines"
    )
    def api_batch(user: ApiUser, batch_id: str = PathParam(..., max_length=80)):
        row = _batch(user, batch_id)
        return JSONResponse(plain({**row, "lines": data.batch_lines(settings.outputs, batch_id)}))

    @app.post(
        "/api/v1/batches/{batch_id}/decision",
        responses=ok(S.Batch),
        tags=["batches"],
        summary="Release or reject a pending batch",
    )
    def api_batch_decision(
        body: BatchDecision,
        request: Request,
        user: ApiUser,
        batch_id: str = PathParam(..., max_length=80),
    ):
        api_write(request, user)
        try:
            return JSONResponse(plain(_decide(user, batch_id, body)))
        except ActionRefused as exc:
            raise HTTPException(409, str(exc)) from None

    @app.get(
        "/api/v1/dashboard",
        responses=ok(S.Figures),
        tags=["figures"],
        summary="Leakage, realization, utilization (margin by role)",
    )
    def api_dashboard(user: ApiUser):
        return JSONResponse(plain(data.dashboard(settings.outputs, user["role"] in access.COST_VIEWERS)))

    @app.get(
        "/api/v1/project-margin", responses=ok(S.Margin), tags=["figures"], summary="Project margin at HR cost rates"
    )
    def api_margin(user: ApiUser):
        access.require(user["role"] in access.COST_VIEWERS, f"{user['role']} does not see HR cost rates")
        margin = data.figures(settings.outputs, ("margin",))  # only the margin query: the API asks for nothing else
        return JSONResponse(plain({"as_of": margin["as_of"], "items": margin.get("margin", [])}))

    add_admin_routes(app, engine, page_user, render, check_csrf, flash, now_utc)
    app.state.engine = engine
    return app
