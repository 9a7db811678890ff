"""One benchmark stage in its own process, so that its peak RSS is its own. Prints a JSON line."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(root: Path, employees: int, months: int) -> dict:
    from estate import EstateConfig, generate_estate

    m = generate_estate(EstateConfig(out=root / "landing", employees=employees, months=months, seed=1, progress=False))
    return {"time_entries": m["estate"]["time_entries"], "as_of": m["as_of"]}


def _env(root: Path) -> None:
    os.environ["PSSYNC_LANDING_DIR"] = str(root / "landing")
    os.environ["PSSYNC_WAREHOUSE"] = str(root / "warehouse.duckdb")
    os.environ["PSSYNC_OUTPUT_DIR"] = str(root / "output")
    os.environ.setdefault("PSSYNC_PARTITION_START", "2024-01-01")


def _stage_times(result, instance) -> dict:
    """Seconds per stage from the run's step statistics and the assets' own timings."""
    stages, steps = {}, {}
    stats = [st for run_id in result.run_ids for st in instance.get_run_step_stats(run_id)]
    for st in stats:  # a billing step runs once per legal entity: its seconds are summed
        steps[st.step_key] = round(steps.get(st.step_key, 0) + (st.end_time or 0) - (st.start_time or 0), 2)
        prefix = st.step_key.split("__")[0]
        g = {"raw": "extract", "batches": "billing", "batch_files": "billing"}.get(prefix, prefix)
        stages[g] = stages.get(g, 0.0) + (st.end_time or 0) - (st.start_time or 0)
    contracts = checks = 0.0
    seen = set()
    for mat in result.get_asset_materialization_events():
        md = mat.event_specific_data.materialization.metadata
        # a step over several partitions (every legal entity of a date) reports its timings once per partition
        step = (mat.step_key, mat.asset_key, md["as_of"].value if "as_of" in md else None)
        if step in seen:
            continue
        seen.add(step)
        contracts += md["contract_seconds"].value if "contract_seconds" in md else 0
        checks += md["quality_seconds"].value if "quality_seconds" in md else 0
    stages["canonical"] = stages.get("canonical", 0) - contracts
    stages["contracts"] = contracts
    stages["marts"] = stages.get("marts", 0) - checks
    stages["checks"] = checks
    out = {k: round(v, 2) for k, v in stages.items()}
    out["slowest_steps"] = dict(sorted(steps.items(), key=lambda kv: -kv[1])[:8])
    out["psa_time_entries"] = steps.get("raw__psa_time_entries")
    return out


def nightly(root: Path, as_of: str) -> dict:
    _env(root)
    import dagster as dg

    from dagster_project.runner import run_pipeline

    inst = dg.DagsterInstance.ephemeral()
    result = run_pipeline(date.fromisoformat(as_of), job_name="nightly_sync", raise_on_error=True, on=inst)
    import duckdb

    con = duckdb.connect(os.environ["PSSYNC_WAREHOUSE"], read_only=True)
    rows = con.execute("SELECT count(*) FROM raw.psa_time_entries").fetchall()[0][0]
    con.close()
    from benchmarks.operation import warehouse_bytes

    return {"stages": _stage_times(result, inst), "raw_time_entries": rows, "warehouse_bytes": warehouse_bytes(root)}


def shared_nightly(root: Path, as_of: str) -> dict:
    """The nightly on a shared warehouse: DuckLake with its catalog in a new PostgreSQL database on the server of
    PSSYNC_TEST_PG_URL and its data files under ``root``, steps in process
    (docs/deployment.md). Needs pssync[shared]."""
    import uuid

    import sqlalchemy as sa

    server = sa.engine.make_url(os.environ.get("PSSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1/test"))
    name = f"pssync_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    _env(root)
    user = f" user={server.username}" if server.username else ""
    os.environ["PSSYNC_WAREHOUSE"] = f"ducklake:postgres:dbname={name} host={server.host or '127.0.0.1'}{user}"
    os.environ["PSSYNC_WAREHOUSE_DATA"] = str(root / "lake")
    os.environ["PSSYNC_OUTPUT_DIR"] = str(root / "output")
    os.environ["PSSYNC_WORKFLOW_URL"] = f"sqlite:///{root / 'workflow.db'}"
    try:
        import dagster as dg

        from dagster_project.runner import run_pipeline

        inst = dg.DagsterInstance.ephemeral()
        result = run_pipeline(date.fromisoformat(as_of), job_name="nightly_sync", raise_on_error=True, on=inst)
        lake = sum(f.stat().st_size for f in (root / "lake").rglob("*") if f.is_file())
        return {"stages": _stage_times(result, inst), "lake_bytes": lake}
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def one_day_of_changes(root: Path, as_of: str, hour: int = 9) -> int:
    """The next day's changes in the PSA, stamped at ``hour`` of it: approvals of waiting entries, a few edits, a
    day of new entries."""
    import sqlite3

    d1 = date.fromisoformat(as_of) + timedelta(days=1)
    stamp = f"{d1} {hour:02d}:00:00.000000"
    db = sqlite3.connect(root / "landing" / "psa" / "psa.db")
    try:
        n = db.execute(
            "UPDATE time_entries SET status = 'approved', approved_at = ?, updated_at = ? WHERE status = 'submitted'",
            (stamp, stamp),
        ).rowcount
        n += db.execute(
            "UPDATE time_entries SET time_in_minutes = time_in_minutes + 15, revision = revision + 1, "
            "updated_at = ? WHERE time_entry_id % 997 = 0 AND date_performed >= ?",
            (stamp, str(d1 - timedelta(days=30))),
        ).rowcount
        top = db.execute("SELECT max(time_entry_id) FROM time_entries").fetchone()[0]
        n += db.execute(f"""INSERT INTO time_entries SELECT time_entry_id + {top}, resource_id, project_id, task_code,
                            '{d1}', time_in_minutes, billable, 'submitted', '{stamp}',
                            NULL, NULL, NULL, 1, NULL, '{stamp}'
                            FROM time_entries WHERE date_performed = (SELECT max(date_performed) FROM time_entries
                            WHERE strftime('%w', date_performed) NOT IN ('0', '6'))""").rowcount
        db.commit()
    finally:
        db.close()
    return n


def timed_run(day: date, job: str = "hourly_sync") -> dict:
    """One run of a job through Dagster in process: its wall time, its stage times, and what recon recomputed."""
    import dagster as dg

    from dagster_project.runner import run_pipeline

    inst = dg.DagsterInstance.ephemeral()
    t0 = time.perf_counter()
    result = run_pipeline(day, job_name=job, raise_on_error=True, on=inst)
    seconds = round(time.perf_counter() - t0, 2)
    recomputed = [
        m.event_specific_data.materialization.metadata["recomputed"].value
        for m in result.get_asset_materialization_events()
        if m.asset_key.path == ["recon", "time_to_bill"]
    ]
    return {"stages": _stage_times(result, inst), "run_seconds": seconds, "recomputed": recomputed[0]}


def hourly(root: Path, as_of: str) -> dict:
    """The hourly sync of the next date: its first run (the date recomputed whole), then a run after one day of
    changes and one after 10 edited entries (each recomputing what changed)."""
    import random

    from benchmarks.operation import edit_entries

    _env(root)
    day = date.fromisoformat(as_of) + timedelta(days=1)
    first = timed_run(day)
    changed = one_day_of_changes(root, as_of, hour=12)
    one_day = timed_run(day)
    edit_entries(root, day, 13, 10, random.Random(7))
    ten = timed_run(day)
    return {"changed_rows": changed, **one_day, "first_run": first, "ten_entries": ten}


RECON_TABLES = ("time_to_bill", "billing_line_exceptions", "contractor_hours")


def _create_bare(con, table: str, params: dict) -> None:
    """``table`` (schema.name) from its SQL file, as a plain CREATE TABLE AS: the floor of its step."""
    from resources.warehouse import bound_params, sql_text

    query = sql_text(table.replace(".", "/"))
    kind = con.execute(  # a table kept as versions is a view by its published name (assets/versions.py)
        "SELECT table_type FROM information_schema.tables WHERE table_schema || '.' || table_name = ?", [table]
    ).fetchall()
    con.execute(f"DROP {'VIEW' if kind == [('VIEW',)] else 'TABLE'} IF EXISTS {table}")
    con.execute(f"CREATE TABLE {table} AS {query}", bound_params(query, params))


def _bare_recon(path: Path, d: date, memory_limit: str | None) -> float:
    """The three recon queries, bare, in a fresh connection (as each recon step opens one)."""
    import duckdb

    from assets.billing.emit import billable_entities
    from assets.recon.assets import params_for
    from resources.settings import current

    con = duckdb.connect(str(path), config={"memory_limit": memory_limit} if memory_limit else {})
    params = {**params_for(d, current()), "legal_entities": billable_entities(con, d)}  # every entity at once
    t0 = time.perf_counter()
    for name in RECON_TABLES:
        _create_bare(con, f"recon.{name}", params)
    seconds = time.perf_counter() - t0
    con.close()
    return seconds


def floor(root: Path, as_of: str) -> dict:
    """The bare DuckDB SQL of canonical + recon + marts: no Dagster, no validation, no metadata. The engine runs
    with the pipeline's own settings (its memory limit); recon is also timed once with DuckDB unrestricted."""
    import shutil

    import duckdb

    from assets.billing.emit import billable_entities
    from assets.canonical.assets import XWALKS, create_asof_view
    from assets.canonical.entities import ENTITIES
    from assets.marts.assets import MARTS, mart_params
    from resources.settings import current
    from resources.warehouse import Warehouse, sql_text

    src = root / "warehouse.duckdb"
    dst = root / "floor.duckdb"
    shutil.copyfile(src, dst)
    memory_limit = Warehouse(path=str(dst)).memory_limit
    con = duckdb.connect(str(dst), config={"memory_limit": memory_limit})
    d = date.fromisoformat(as_of)
    t0 = time.perf_counter()
    con.execute(sql_text("ddl/ops"))
    con.execute(sql_text("ddl/macros"))
    for e in ENTITIES:
        con.execute(f"CREATE OR REPLACE TABLE canonical.{e.name}_history AS {sql_text(f'canonical/{e.name}_history')}")
        create_asof_view(con, e.view_name)
    for x in XWALKS:
        create_asof_view(con, x)
    t_canonical = time.perf_counter() - t0
    con.close()
    t_recon = _bare_recon(dst, d, memory_limit)
    t_recon_unlimited = _bare_recon(dst, d, None)
    con = duckdb.connect(str(dst), config={"memory_limit": memory_limit})
    every = billable_entities(con, d)  # the marts split by entity, for every entity at once
    t2 = time.perf_counter()
    for m in MARTS:
        _create_bare(con, f"marts.{m.name}", {**mart_params(d, current()), "legal_entities": every})
    t_marts = time.perf_counter() - t2
    n = con.execute("SELECT count(*) FROM recon.time_to_bill").fetchall()[0][0]
    con.close()
    dst.unlink()
    return {
        "canonical": round(t_canonical, 2),
        "recon": round(t_recon, 2),
        "marts": round(t_marts, 2),
        "recon_unlimited_memory": round(t_recon_unlimited, 2),
        "memory_limit": memory_limit,
        "total": round(t_canonical + t_recon + t_marts, 2),
        "recon_rows": n,
    }


def pandas_reference(root: Path, as_of: str) -> dict:
    from benchmarks.pandas_reference import run

    return run(root / "warehouse.duckdb", date.fromisoformat(as_of))


def datacompy_reference(root: Path, as_of: str) -> dict:
    from benchmarks.pandas_reference import datacompy_compare

    return datacompy_compare(root / "warehouse.duckdb", date.fromisoformat(as_of))


def operation(root: Path, as_of: str, days: int) -> dict:
    from benchmarks.operation import operate

    return operate(root, as_of, days)


STAGES = {
    "operation": operation,
    "generate": generate,
    "nightly": nightly,
    "shared_nightly": shared_nightly,
    "hourly": hourly,
    "floor": floor,
    "pandas": pandas_reference,
    "datacompy": datacompy_reference,
}

if __name__ == "__main__":
    name, root, *rest = sys.argv[1:]
    t0 = time.perf_counter()
    args = [int(a) if a.isdigit() else a for a in rest]
    out = STAGES[name](Path(root), *args)
    print(
        json.dumps(
            {
                "stage": name,
                "wall_seconds": round(time.perf_counter() - t0, 2),
                "peak_rss_mb": round(peak_rss_mb()),
                **out,
            }
        )
    )
