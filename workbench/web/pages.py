"""Rendering a page: the local templates (no CDN, no script), the flash message of the last action, and the
filters that format money, shares and times."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from workbench.web.deps import csrf_token, session_user, workbench

HERE = Path(__file__).parent


def change(entry: dict) -> str:
    """What an audit-trail entry changed, as 'state: open -> acknowledged; assignee: - -> fiona'."""
    before, after = json.loads(entry["before"] or "{}"), json.loads(entry["after"] or "{}")
    shown = ("state", "assignee", "waiver_reason", "owner", "message")
    parts = [f"{k}: {before.get(k) or '–'} → {after.get(k) or '–'}" for k in shown if before.get(k) != after.get(k)]
    return "; ".join(parts) or "no change of state"


def templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    env.filters["money"] = lambda v: "" if v is None else f"{v:,.2f}"
    env.filters["pct"] = lambda v: "–" if v is None else f"{float(v):.1%}"
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M UTC") if isinstance(v, datetime) else (v or "")
    env.filters["change"] = change
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    flash = request.session.pop("flash", None)
    return workbench(request).templates.TemplateResponse(
        request,
        name,
        {"user": session_user(request), "csrf": csrf_token(request), "flash": flash, **context},
        status_code=status,
    )


def flash(request: Request, text: str, kind: str = "info") -> None:
    """A message the next page shows once (what the last action did, or why it was refused)."""
    request.session["flash"] = {"kind": kind, "text": text}
