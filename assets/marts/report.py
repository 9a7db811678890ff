"""The one-page HTML report for finance and delivery: leakage, realization, utilization, exceptions.

Charts are inline SVG, so the page needs no network and renders the same everywhere.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from assets.ops.exceptions import open_exceptions
from resources.outputs import write_atomically
from resources.warehouse import bound_params, open_warehouse, sql_text

COLORS = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#1b7c83"]


def percent(v) -> str:
    """Every ratio on the page, in the charts and the tables alike: one decimal, as a percentage."""
    return "–" if v is None else f"{float(v):.1%}"


def bar_chart(
    title: str, rows: list[tuple[str, float]], unit: str = "", percent: bool = False, decimals: int = 2
) -> str:
    """A horizontal bar chart as SVG; labels carry the exact figures."""
    if not rows:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>No data.</p></figure>"
    width, bar_h, label_w = 560, 22, 170
    top = max(abs(float(v or 0)) for _, v in rows) or 1.0
    h = bar_h * len(rows) + 10
    parts = [
        f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, value) in enumerate(rows):
        v = float(value or 0)
        w = max(1, int((width - label_w - 150) * abs(v) / top))  # room for the figure after the bar
        y = i * bar_h + 4
        shown = f"{v:.1%}" if percent else f"{v:,.{decimals}f}{unit}"
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="13">{html.escape(str(label))}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h - 6}" fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 15}" font-size="13" class="figure">{shown}</text>'
        )
    parts.append("</svg>")
    return f"<figure><figcaption>{html.escape(title)}</figcaption>{''.join(parts)}</figure>"


def table(headers: list[str], rows: list[tuple], percent_columns: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(percent(c) if i in percent_columns else c if isinstance(c, str) else _cell(c))}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, (int,)):
        return f"{v:,}"
    if isinstance(v, (float, Decimal)):
        return f"{float(v):,.2f}"
    return str(v)


def report_figures(con: duckdb.DuckDBPyConnection, as_of: date, reporting: str) -> dict:
    """Every figure of the report, straight from the marts and recon of ``as_of``."""

    def q(name: str):
        text = sql_text(f"reports/{name}")
        params = {"as_of": as_of, "reporting": reporting}
        return con.execute(text, bound_params(text, params)).fetchall()

    con.register("open_exceptions", open_exceptions(con, as_of).to_arrow())
    try:
        exceptions = q("exceptions_by_owner")
    finally:
        con.unregister("open_exceptions")
    return {
        "period": q("report_period")[0],
        "leakage": q("leakage_total")[0][0],
        "wip_by_age": q("wip_by_age"),
        "realization": q("realization_by_practice_entity"),
        "utilization": q("utilization_by_practice_entity"),
        "exceptions": exceptions,
        "reporting": reporting,
    }


DEFINITIONS = [
    (
        "Unbilled WIP",
        "live-approved billable T&M work not yet on an ERP invoice (recon status UNBILLED, BATCHED, "
        "INELIGIBLE or OVER_CAP), at the expected rate, converted at the ERP rate of the work date.",
    ),
    ("Age", "days from approval to the as-of date."),
    (
        "Leakage",
        "unbilled WIP older than 30 days (it missed a billing cycle), plus work that cannot be billed as "
        "things stand (INELIGIBLE, OVER_CAP) of any age.",
    ),
    (
        "Realization",
        "billed value / standard value (billable hours x rate card rate without discount), for months "
        "of work before the as-of month, which is still being invoiced.",
    ),
    (
        "Billable utilization",
        "billable hours of live-approved entries / available hours (capacity less time off), "
        "over complete weeks; the week of the as-of date is not final and is left out.",
    ),
    (
        "Open exceptions",
        "what somebody must act on as of the date: flagged time entries, unmatched invoice lines, "
        "contractor-hours gaps, billing holds and open data-quality exceptions (the list of "
        "`pssync exceptions`). Amount at risk in the reporting currency.",
    ),
]


def _period(first, last, unit: str) -> str:
    return f"{first:%Y-%m-%d}..{last:%Y-%m-%d}" if first and last else f"no complete {unit} yet"


def render(figures: dict, as_of: date, generated_at: str) -> str:
    cur = figures["reporting"]
    wip = figures["wip_by_age"]
    first_month, last_month, first_week, last_week = figures["period"]
    months = f"{first_month:%Y-%m}..{last_month:%Y-%m}" if first_month and last_month else "no complete month yet"
    weeks = _period(first_week, last_week, "week")
    css = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1200px}"
        "h1{font-size:22px}h2{font-size:17px;margin-top:26px}section{display:inline-block;vertical-align:top;"
        "width:580px;margin-right:20px}table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid "
        "#d0d7de;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "figcaption{font-weight:600;margin:8px 0}.kpi{font-size:28px;font-weight:700}.period{color:#59636e}"
        "dl{font-size:13px}dt{font-weight:600;margin-top:6px}dd{margin-left:16px}"
    )
    sections = [
        f"<section><h2>Leakage: unbilled WIP by age ({cur})</h2>"
        f"<p class='period'>As of {as_of}, all unbilled work by days since approval.</p>"
        f"<p><span class='kpi' id='leakage-total'>{float(figures['leakage']):,.2f}</span> {cur} leakage</p>"
        + bar_chart("Unbilled approved value by days since approval", [(r[0], r[1]) for r in wip], unit=f" {cur}")
        + table(["age (days)", f"unbilled ({cur})"], wip)
        + "</section>",
        "<section><h2>Realization by practice and legal entity</h2>"
        f"<p class='period' id='realization-period'>Months of work {months} (the as-of month, still being "
        "invoiced, is left out).</p>"
        + bar_chart(
            "Realization (billed / standard)", [(f"{r[0]} {r[1]}", r[4]) for r in figures["realization"]], percent=True
        )
        + table(
            ["practice", "entity", f"standard ({cur})", f"billed ({cur})", "realization"], figures["realization"], (4,)
        )
        + "</section>",
        "<section><h2>Utilization by practice and legal entity</h2>"
        f"<p class='period' id='utilization-period'>Complete weeks starting {weeks} (the week of the as-of date "
        "is not final and is left out).</p>"
        + bar_chart("Billable utilization", [(f"{r[0]} {r[1]}", r[4]) for r in figures["utilization"]], percent=True)
        + table(
            ["practice", "entity", "available h", "billable h", "billable utilization"], figures["utilization"], (4,)
        )
        + "</section>",
        "<section><h2>Open exceptions by owner</h2>"
        f"<p class='period'>Open as of {as_of}.</p>"
        + bar_chart("Open exceptions", [(r[0], r[1]) for r in figures["exceptions"]], decimals=0)
        + table(["owner", "exceptions", f"amount at risk ({cur})"], figures["exceptions"])
        + "</section>",
        "<section id='definitions'><h2>Definitions</h2><dl>"
        + "".join(f"<dt>{html.escape(t)}</dt><dd>{html.escape(d)}</dd>" for t, d in DEFINITIONS)
        + "</dl></section>",
    ]
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>pssync report {as_of}</title>"
        f"<style>{css}</style></head><body><h1>pssync — billing and delivery report, as of {as_of}</h1>"
        f"<p class='period' id='generated'>Generated {generated_at} from the warehouse as reconciled for {as_of}; "
        f"money in {cur}.</p>" + "".join(sections) + "</body></html>\n"
    )


def write_report(warehouse_path: str, as_of: date, reporting: str, out: Path) -> Path:
    con = open_warehouse(warehouse_path, read_only=True)
    try:
        figures = report_figures(con, as_of, reporting)
    finally:
        con.close()

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    write_atomically(out, render(figures, as_of, generated).encode("utf-8"))
    return out
