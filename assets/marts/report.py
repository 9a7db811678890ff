"""The one-page HTML report for finance and delivery: leakage, realization, utilization, exceptions.

Charts are inline SVG, so the page needs no network and renders the same everywhere.
"""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from resources.outputs import write_atomically
from resources.warehouse import bound_params, sql_text

COLORS = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#1b7c83"]


def _fmt(v, digits=0) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and digits == 0 and abs(v) < 10:
        return f"{v:.1%}"
    return f"{float(v):,.{digits}f}"


def bar_chart(title: str, rows: list[tuple[str, float]], unit: str = "", percent: bool = False) -> str:
    """A horizontal bar chart as SVG; labels carry the exact figures."""
    if not rows:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>No data.</p></figure>"
    width, bar_h, label_w = 560, 22, 170
    top = max(abs(float(v or 0)) for _, v in rows) or 1.0
    h = bar_h * len(rows) + 10
    parts = [f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value) in enumerate(rows):
        v = float(value or 0)
        w = max(1, int((width - label_w - 110) * abs(v) / top))
        y = i * bar_h + 4
        shown = f"{v:.1%}" if percent else f"{v:,.0f}{unit}"
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{html.escape(str(label))}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h - 6}" fill="{COLORS[i % len(COLORS)]}"/>'
                     f'<text x="{label_w + w + 6}" y="{y + 15}" font-size="13" class="figure">{shown}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{html.escape(title)}</figcaption>{''.join(parts)}</figure>"


def table(headers: list[str], rows: list[tuple]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c if isinstance(c, str) else _cell(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
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
        return con.sql(text, params=bound_params(text, params)).fetchall()

    return {
        "wip_by_age": q("wip_by_age"),
        "realization": q("realization_by_practice_entity"),
        "utilization": q("utilization_by_practice_entity"),
        "exceptions": q("exceptions_by_owner"),
        "reporting": reporting,
    }


def render(figures: dict, as_of: date) -> str:
    cur = figures["reporting"]
    wip = figures["wip_by_age"]
    total_leak = sum(float(r[2] or 0) for r in wip)
    css = ("body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1200px}"
           "h1{font-size:22px}h2{font-size:17px;margin-top:26px}section{display:inline-block;vertical-align:top;"
           "width:580px;margin-right:20px}table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid "
           "#d0d7de;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
           "figcaption{font-weight:600;margin:8px 0}.kpi{font-size:28px;font-weight:700}")
    sections = [
        f"<section><h2>Leakage: unbilled WIP by age ({cur})</h2>"
        f"<p><span class='kpi' id='leakage-total'>{total_leak:,.2f}</span> {cur} leakage</p>"
        + bar_chart("Unbilled approved value by days since approval", [(r[0], r[1]) for r in wip])
        + table(["age", f"unbilled ({cur})", f"leakage ({cur})"], wip) + "</section>",
        "<section><h2>Realization by practice and legal entity</h2>"
        + bar_chart("Realization (billed / standard)", [(f"{r[0]} {r[1]}", r[4]) for r in figures["realization"]], percent=True)
        + table(["practice", "entity", f"standard ({cur})", f"billed ({cur})", "realization"], figures["realization"])
        + "</section>",
        "<section><h2>Utilization by practice and legal entity</h2>"
        + bar_chart("Billable utilization", [(f"{r[0]} {r[1]}", r[4]) for r in figures["utilization"]], percent=True)
        + table(["practice", "entity", "available h", "billable h", "billable utilization"], figures["utilization"])
        + "</section>",
        "<section><h2>Exceptions by owner</h2>"
        + bar_chart("Open exceptions", [(r[0], r[1]) for r in figures["exceptions"]])
        + table(["owner", "exceptions", f"amount at risk ({cur})"], figures["exceptions"]) + "</section>",
    ]
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>pssync report {as_of}</title>"
            f"<style>{css}</style></head><body><h1>pssync — billing and delivery report, as of {as_of}</h1>"
            + "".join(sections) + "</body></html>\n")


def write_report(warehouse_path: str, as_of: date, reporting: str, out: Path) -> Path:
    con = duckdb.connect(warehouse_path, read_only=True)
    try:
        figures = report_figures(con, as_of, reporting)
    finally:
        con.close()
    write_atomically(out, render(figures, as_of).encode("utf-8"))
    return out
