"""The web workbench: sign-in, the exceptions worklist and an exception's detail with its actions, billing batches
with release and reject, a dashboard, the admin's page; and the versioned JSON API under ``/api/v1`` with its
OpenAPI document at ``/api/v1/openapi.json``.

Pages are rendered on the server from local templates and one local stylesheet (no CDN, no script). A person signs
in with a password (scrypt); the session is a cookie signed with ``PSSYNC_WEB_SECRET``; every form carries the
session's CSRF token and a post without it is refused. Service accounts call the API with ``Authorization: Bearer``
tokens (``pssync users token``). What a role may see and do is in ``workbench/access.py``; the routes are in
``workbench/web/routes/``, one router per kind of thing.
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from resources.settings import PssyncSettings
from resources.settings import secret as env_secret
from workbench import access
from workbench.store import open_store
from workbench.web.deps import NotSignedIn, Workbench
from workbench.web.guard import Guard
from workbench.web.pages import HERE, render, templates
from workbench.web.routes import batches, exceptions, figures, users
from workbench.web.schemas import PROBLEMS

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


async def security_headers(request: Request, call_next):
    """The headers every answer carries; over HTTPS (directly or behind a proxy that says so), Secure cookies."""
    response = await call_next(request)
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    if request.url.scheme == "https":
        cookies = response.headers.getlist("set-cookie")
        if cookies:
            del response.headers["set-cookie"]
            for c in cookies:
                response.headers.append("set-cookie", c if "; secure" in c.lower() else f"{c}; Secure")
    return response


async def refused(request: Request, exc: Exception) -> Response:
    """What a role may not see or do: 403, as JSON for the API and as a page for a person."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": str(exc)}, status_code=403)
    return render(request, "error.html", {"title": "Not allowed", "message": str(exc)}, status=403)


def create_app(
    settings: PssyncSettings,
    secret: str | None = None,
    per_second: float = 20,
    burst: int = 100,
    max_body: int | None = None,
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
    app.state.workbench = Workbench(engine=engine, settings=settings, templates=templates())
    app.add_middleware(
        SessionMiddleware, secret_key=secret, session_cookie="pssync_session", max_age=8 * 3600, same_site="strict"
    )
    app.add_middleware(Guard, per_second=per_second, burst=burst, **({"max_body": max_body} if max_body else {}))
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(NotSignedIn, users.to_signin)
    app.add_exception_handler(access.Refused, refused)
    for router in (users.router, exceptions.router, batches.router, figures.router):
        app.include_router(router)
    return app
