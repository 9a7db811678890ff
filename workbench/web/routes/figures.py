"""The figures of the published snapshot: the dashboard (leakage, realization, utilization; margin for the roles
that see HR cost rates) and project margin, as a page and as the JSON API."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request

from workbench import access
from workbench.web import data
from workbench.web import schemas as S
from workbench.web.deps import ApiUser, PageUser, Wb
from workbench.web.pages import render

router = APIRouter()


@router.get("/dashboard", include_in_schema=False)
def dashboard_page(request: Request, wb: Wb, user: PageUser):
    figures = data.dashboard(wb.settings.outputs, user.role in access.COST_VIEWERS)
    top = max((r["leakage"] for r in figures.get("leakage", [])), default=Decimal(1)) or Decimal(1)
    return render(request, "dashboard.html", {"f": figures, "top_leakage": top})


@router.get(
    "/api/v1/dashboard",
    response_model=S.Figures,
    tags=["figures"],
    summary="Leakage, realization, utilization (margin by role)",
)
def api_dashboard(wb: Wb, user: ApiUser):
    return data.dashboard(wb.settings.outputs, user.role in access.COST_VIEWERS)


@router.get(
    "/api/v1/project-margin", response_model=S.Margin, tags=["figures"], summary="Project margin at HR cost rates"
)
def api_margin(wb: Wb, user: ApiUser):
    access.require(user.role in access.COST_VIEWERS, f"{user.role} does not see HR cost rates")
    margin = data.figures(wb.settings.outputs, ("margin",))  # only the margin query: the API asks for nothing else
    return {"as_of": margin["as_of"], "items": margin.get("margin", [])}
