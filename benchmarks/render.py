"""Rendering docs/benchmarks.md and its charts from every result file in benchmarks/results/."""

from __future__ import annotations

import json
import math

from benchmarks.sizes import RESULTS, ROOT, SIZES, STAGE_ORDER


def render() -> None:
    results = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    results = [
        r for r in results if all("error" not in r.get(k, {"error": 1}) for k in ("generate", "nightly", "hourly"))
    ]
    results.sort(key=lambda r: list(SIZES).index(r["size"]))
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` on this project's machine (2 cores, 24 GiB). Each stage runs in its own process; "
        "RSS is that process's peak. Regenerated from `benchmarks/results/*.json`.",
        "",
        "## Generator",
        "",
        "Median of three runs (each run's figures in brackets): this VM's throughput varies by 10-20 % from one run "
        "to the next for the same work.",
        "",
        "| size | employees x months | time entries | wall s | entries/s | peak RSS MB | measured (UTC) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        g = r["generate"]
        when = g.get("measured_at", r["measured_at"])[:16].replace("T", " ")
        walls = " [" + ", ".join(map(str, g["runs_wall_seconds"])) + "]" if "runs_wall_seconds" in g else ""
        rss = " [" + ", ".join(f"{m:,}" for m in g["runs_peak_rss_mb"]) + "]" if "runs_peak_rss_mb" in g else ""
        lines.append(
            f"| {r['size']} | {r['employees']:,} x {r['months']} | {g['time_entries']:,} | "
            f"{g['wall_seconds']}{walls} | {g['time_entries'] / g['wall_seconds']:,.0f} | {g['peak_rss_mb']:,}{rss} | "
            f"{when} |"
        )
    lines += [
        "",
        "## Nightly sync from an empty warehouse (through Dagster, in process)",
        "",
        "| size | " + " | ".join(STAGE_ORDER) + " | wall s | entries/s | peak RSS MB |",
        "|---|" + "---:|" * (len(STAGE_ORDER) + 3),
    ]
    for r in results:
        n = r["nightly"]
        st = n["stages"]
        lines.append(
            f"| {r['size']} | "
            + " | ".join(str(st.get(s, "-")) for s in STAGE_ORDER)
            + f" | {n['wall_seconds']} | {r['generate']['time_entries'] / n['wall_seconds']:,.0f}"
            + f" | {n['peak_rss_mb']:,} |"
        )
    lines += _shared_lines(results)
    lines += _hourly_lines(results)
    refs = [r for r in results if "error" not in r.get("floor", {"error": 1})]
    if refs:
        lines += [
            "",
            "## Against the floor and the usual alternatives",
            "",
            "Floor: the same SQL files run bare in DuckDB (no Dagster, no validation, no metadata, no exceptions "
            "bookkeeping), with the pipeline's DuckDB memory limit; recon is also timed with DuckDB unrestricted. "
            "Pipeline recon: the three recon steps of the nightly run. pandas: the recon rules (without the NTE "
            "cap, currency conversion and amounts at risk) as an analyst would write them, loading included. "
            "datacompy: its polars comparison of approved entries against billed lines.",
            "",
            "| size | floor recon s | floor recon s, no memory limit | pipeline recon s | recon / floor | "
            "recon / floor without limit | pandas recon s | pandas / pipeline recon | datacompy compare s | "
            "floor canonical+recon+marts s | pipeline / floor |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in refs:
            st = r["nightly"]["stages"]
            pipe = sum(st.get(s, 0) for s in ("canonical", "contracts", "recon", "marts"))
            f = r["floor"]
            p = r.get("pandas", {"error": "not run"})
            pandas_s = p["load"] + p["recon"] if "error" not in p else None
            pandas_cells = (
                f"{pandas_s:.2f} | {pandas_s / max(st['recon'], 0.01):.1f}x"
                if pandas_s is not None
                else f"{p['error'][:60]} | -"
            )
            dc = r.get("datacompy", {})
            free = f.get("recon_unlimited_memory")
            free_ratio = f"{st['recon'] / max(free, 0.01):.2f}x" if free else "-"
            lines.append(
                f"| {r['size']} | {f['recon']} | {free or '-'} | {st['recon']} | "
                f"{st['recon'] / max(f['recon'], 0.01):.2f}x | {free_ratio} | {pandas_cells} | "
                f"{dc.get('compare', '-')} | {f['total']} | {pipe / f['total']:.2f}x |"
            )
    by = {r["size"]: r for r in results}
    if "M" in by and "L" in by:
        m, large = by["M"], by["L"]
        exp = math.log(large["nightly"]["wall_seconds"] / m["nightly"]["wall_seconds"]) / math.log(
            large["generate"]["time_entries"] / m["generate"]["time_entries"]
        )
        lines += ["", f"Growth from M to L: nightly wall time scales with time entries to the power **{exp:.2f}**."]
    lines += _operation_lines(results)
    lines += [
        "",
        "![time per stage against size](benchmarks-stages.png)",
        "",
        "## Targets",
        "",
        (ROOT / "benchmarks" / "targets.md").read_text(),
        "How these figures were reached, what was tried and what it cost: the dated entries of `benchmarks/journal/`.",
    ]
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines) + "\n")
    _chart(results)


def _recon_step(run: dict) -> float | None:
    return run.get("stages", {}).get("slowest_steps", {}).get("recon__time_to_bill")


def _shared_lines(results: list[dict]) -> list[str]:
    """The nightly on the shared warehouse against the embedded file (`shared_comparison`)."""
    done = [r for r in results if "shared_nightly" in r.get("shared", {})]
    lines = [
        "",
        "## Shared warehouse against the embedded file (issue #18)",
        "",
        "The nightly from an empty warehouse on the shared warehouse (DuckLake, its catalog in PostgreSQL on this "
        "machine, its data files on local disk) against the embedded DuckDB file, both in process on the DuckDB of "
        "the shared venv (DuckLake's packages exist for DuckDB 1.5, not for the 2.0 of the rows above), the modes "
        "alternated, each from empty (`--shared only` measures this alone). Two cores show what the shared mode "
        "costs one machine; what it buys is runs side by side and workers on other machines (deployment.md).",
        "",
        "| size | DuckDB | memory cap | embedded wall s (runs) | shared wall s (runs) | shared / embedded | "
        "peak RSS MB, embedded / shared | extract, canonical, recon, billing, marts s: embedded / shared | "
        "measured (UTC) |",
        "|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in done:
        e, sh = r["shared"]["embedded_nightly"], r["shared"]["shared_nightly"]

        def runs(x: dict) -> str:
            return f"{x['wall_seconds']} ({', '.join(map(str, x.get('runs_wall_seconds', [x['wall_seconds']])))})"

        def steps(x: dict) -> str:
            return ", ".join(
                str(round(x["stages"].get(k, 0), 1)) for k in ("extract", "canonical", "recon", "billing", "marts")
            )

        lines.append(
            f"| {r['size']} | {e.get('duckdb', '-')} | {e.get('duckdb_memory_limit', '-')} | "
            f"{runs(e)} | {runs(sh)} | "
            f"{sh['wall_seconds'] / e['wall_seconds']:.2f}x | {e['peak_rss_mb']:,} / {sh['peak_rss_mb']:,} | "
            f"{steps(e)} / {steps(sh)} | {sh.get('measured_at', r['measured_at'])[:16].replace('T', ' ')} |"
        )
    skipped = [
        f"{r['size']}: {r['shared'].get('skipped') or r['shared'].get('error')}"
        for r in results
        if r.get("shared") and r not in done
    ]
    if skipped:
        lines += ["", "Not measured: " + "; ".join(skipped) + "."]
    return lines if done or skipped else []


def _hourly_lines(results: list[dict]) -> list[str]:
    """The hourly sync of the date after the estate's end: its first run computes the date whole; the runs after
    one day of changes and after 10 edited entries recompute what changed (docs/recon.md)."""
    lines = [
        "",
        "## Hourly sync",
        "",
        "The date after the estate's end: its first hourly run (the date is computed whole), then a run after one "
        "business day of changes in the PSA (every waiting entry approved, an edit in every 997 recent entries, a "
        "day of new entries), then a run after 10 edited entries. Run s: the whole Dagster run in process; recon s: "
        "the `recon/time_to_bill` step. Full / incremental: the first run's recon step against the run after the "
        "day of changes.",
        "",
        "| size | first run s | recon s (whole date) | one day: changed rows | run s | recon s | recomputed | "
        "full / incremental recon | 10 entries: run s | recon s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        h = r["hourly"]
        first, ten = h.get("first_run"), h.get("ten_entries")
        if not first:  # measured before incremental recon: the run after a day's changes was the date's first
            lines.append(
                f"| {r['size']} | - | - | {h['changed_rows']:,} | {h['run_seconds']} | {_recon_step(h)} | whole date "
                f"| - | - | - | {h['peak_rss_mb']:,} |"
            )
            continue
        full, inc = _recon_step(first), _recon_step(h)
        lines.append(
            f"| {r['size']} | {first['run_seconds']} | {full} | {h['changed_rows']:,} | {h['run_seconds']} | {inc} | "
            f"{h['recomputed']} | {full / max(inc, 0.01):.1f}x | {ten['run_seconds']} | {_recon_step(ten)} | "
            f"{h['peak_rss_mb']:,} |"
        )
    return lines


def _operation_lines(results: list[dict]) -> list[str]:
    ops = [r for r in results if "error" not in r.get("operation", {"error": 1})]
    lines = []
    for r in ops:
        op, size = r["operation"], r["size"]
        first = r["nightly"].get("warehouse_bytes") or op["first_night_bytes"]
        days = op["days"]
        mb = 1024 * 1024
        lines += [
            "",
            f"## A month of operation at {size}",
            "",
            f"{len(days)} consecutive days after the estate's end, each: the first hourly sync of the date (computed "
            "whole), hourly syncs after 10 and 1,000 edited entries and after the rest of a day's changes, then the "
            "nightly sync of the date (every source, recon, billing, marts). Warehouse: the DuckDB file after the "
            f"nightly. After the first night it was {first / mb:,.0f} MB.",
            "",
            "| day | first hourly s | 10 entries s | 1,000 entries s | one day s (changed rows) | nightly s | "
            "warehouse MB | x first night |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for d in days:
            h = d["hourly"]
            lines.append(
                f"| {d['day']} | {h[0]['wall_seconds']} | {h[1]['wall_seconds']} | {h[2]['wall_seconds']} | "
                f"{h[3]['wall_seconds']} ({h[3]['changed']:,}) | {d['nightly']['wall_seconds']} | "
                f"{d['warehouse_bytes'] / mb:,.0f} | {d['warehouse_bytes'] / first:.2f} |"
            )
        growth = (days[-1]["warehouse_bytes"] - first) / len(days)
        med = {i: sorted(d["hourly"][i]["wall_seconds"] for d in days)[len(days) // 2] for i in range(4)}
        rec = {i: sorted(d["hourly"][i]["recon_seconds"] for d in days)[len(days) // 2] for i in range(4)}
        lines += [
            "",
            f"Median over the days: first hourly {med[0]} s (recon {rec[0]} s); after 10 entries {med[1]} s "
            f"(recon {rec[1]} s); after 1,000 {med[2]} s (recon {rec[2]} s); after a day's changes {med[3]} s "
            f"(recon {rec[3]} s). Storage: {days[-1]['warehouse_bytes'] / first:.2f}x the first night after "
            f"{len(days)} days, {growth / mb:,.1f} MB a day on average; at that rate a first year ends at "
            f"{(first + 365 * growth) / 2**30:,.1f} GB.",
        ]
    if ops:
        lines += ["", "![a month of operation](benchmarks-operation.png)"]
        _operation_chart(ops)
    return lines


def _operation_chart(ops: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (size_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in ops:
        days = r["operation"]["days"]
        x = range(1, len(days) + 1)
        first = r["nightly"].get("warehouse_bytes") or r["operation"]["first_night_bytes"]
        size_ax.plot(
            x, [d["warehouse_bytes"] / first for d in days], marker=".", label=f"{r['size']} ({first / 2**20:,.0f} MB)"
        )
        time_ax.plot(x, [d["nightly"]["wall_seconds"] for d in days], label=f"{r['size']} nightly")
        for i, name in enumerate(("first hourly", "10 entries", "1,000 entries", "one day")):
            time_ax.plot(x, [d["hourly"][i]["wall_seconds"] for d in days], label=f"{r['size']} {name}", ls="--")
    size_ax.set_xlabel("day of operation")
    size_ax.set_ylabel("warehouse size / size after the first night")
    size_ax.axhline(1.3, color="grey", ls=":", lw=1)
    size_ax.set_ylim(0.9, 1.4)
    size_ax.legend(fontsize=8)
    time_ax.set_xlabel("day of operation")
    time_ax.set_ylabel("wall seconds")
    time_ax.set_yscale("log")
    time_ax.legend(fontsize=7)
    fig.suptitle("pssync: a month of nightly and hourly syncs")
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "benchmarks-operation.png", dpi=110)


def _chart(results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = [r["generate"]["time_entries"] for r in results]
    for s in STAGE_ORDER:
        ax.plot(x, [max(r["nightly"]["stages"].get(s, 0), 0.01) for r in results], marker="o", label=s)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time entries")
    ax.set_ylabel("seconds (nightly sync)")
    ax.set_title("pssync nightly sync: time per stage against size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "benchmarks-stages.png", dpi=110)
