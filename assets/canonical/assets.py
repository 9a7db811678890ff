"""Canonical assets: typed, keyed, effective-dated tables under pandera contracts, with as-of views."""

import hashlib
import time
from pathlib import Path

import dagster as dg

from assets.canonical.entities import ENTITIES, Entity
from assets.common import TEAM, now_utc, writer_pool
from assets.dependencies import deps_of
from assets.ops.exceptions import record_exceptions
from checks import contracts as contracts_module
from checks.quarantine import enforce, outcome, still_broken
from resources import Warehouse
from resources.settings import PssyncSettings
from resources.warehouse import SQL_DIR, sql_text, table_exists

LATEST = "DATE '9999-12-30'"


def create_asof_view(con, view: str) -> None:
    """``canonical.<view>_asof(as_of)``: the table as it stood at the end of any as-of date, and
    ``canonical.<view>``: the latest state. ``scoped := TRUE`` lets a macro keyed by time entry read only the
    entries an incremental recon run recomputes (ops.recon_scope), ``restamped := TRUE`` only those with a version
    stamped after the date, ``unplaced := TRUE`` only those with a version on a project the PSA does not have on the
    date; the others ignore all three."""
    con.execute(
        f"CREATE OR REPLACE MACRO canonical.{view}_asof(as_of, scoped := FALSE, restamped := FALSE, "
        f"unplaced := FALSE) AS TABLE "
        f"{sql_text(f'canonical/{view}_asof')}"
    )
    con.execute(f"CREATE OR REPLACE VIEW canonical.{view} AS SELECT * FROM canonical.{view}_asof({LATEST})")
    if (SQL_DIR / "canonical" / f"{view}_macros.sql").exists():  # scalar macros over it (DuckDB binds them at once)
        con.execute(sql_text(f"canonical/{view}_macros"))


def _fingerprint(con, entity: Entity, query: str) -> str:
    """What a history table's rows depend on besides new raw rows: its SQL, the SQL macros, the contracts, and
    the corrected deliveries (a superseded file's rows must leave the table, so it is rebuilt)."""
    names = ", ".join(f"'{r}'" for r in entity.raw)
    superseded = con.execute(f"SELECT count(*) FROM ops.superseded_deliveries WHERE object IN ({names})").fetchall()
    parts = [
        query,
        sql_text("ddl/macros"),
        Path(contracts_module.__file__).read_text(encoding="utf-8"),
        str(superseded),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def build_history(con, entity: Entity, now) -> tuple[str, float]:
    """Build ``canonical.<name>_history`` under its contract. A row-local table whose SQL and contract are
    unchanged takes only the raw extractions it does not hold yet; another is left as it is when no extraction
    arrived since it was built, else rebuilt whole. Returns how it was built and the seconds spent validating."""
    table = f"canonical.{entity.name}_history"
    query = sql_text(f"canonical/{entity.name}_history")
    fingerprint = _fingerprint(con, entity, query)
    built = con.execute(
        "SELECT fingerprint, latest_keys FROM ops.canonical_builds WHERE table_name = ?", [table]
    ).fetchall()
    same_build = table_exists(con, table) and [b[0] for b in built] == [fingerprint]
    if same_build and not entity.row_local and not _unseen_extractions(con, entity, table):
        return "unchanged", 0.0  # the same raw rows under the same SQL and contract: the same table
    append = entity.row_local and same_build
    if append:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _new_extracts AS SELECT DISTINCT _extract_id FROM ({query})
                        WHERE _extract_id NOT IN (
                            SELECT extract_id FROM ops.canonical_extracts WHERE table_name = ?)""",
            [table],
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _new_rows AS SELECT * FROM ({query}) "
            "WHERE _extract_id IN (SELECT _extract_id FROM _new_extracts)"
        )
    else:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {query}")
        # taken before the contract removes rows: an extraction whose rows are all quarantined is still held
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new_extracts AS SELECT DISTINCT _extract_id FROM {table}")
        con.execute("DELETE FROM ops.canonical_extracts WHERE table_name = ?", [table])
    started = time.perf_counter()
    enforce(con, table, entity.contract, now, rows="_new_rows" if append else None)
    seconds = time.perf_counter() - started
    keys = _latest_keys(con, entity, table, built[0][1] if append else None)
    if append:
        con.execute(f"INSERT INTO {table} SELECT * FROM _new_rows")
        con.execute("DROP TABLE _new_rows")
    con.execute("INSERT INTO ops.canonical_extracts SELECT ?, _extract_id FROM _new_extracts", [table])
    con.execute("DROP TABLE _new_extracts")
    if entity.latest_key and keys is None:
        keys = con.execute(f"SELECT count(DISTINCT {entity.latest_key}) FROM {table}").fetchall()[0][0]
    con.execute(
        "MERGE INTO ops.canonical_builds AS t USING (SELECT ? AS table_name, ? AS fingerprint, ?::TIMESTAMP AS "
        "built_at, ?::BIGINT AS latest_keys) AS s ON t.table_name = s.table_name "
        "WHEN MATCHED THEN UPDATE SET fingerprint = s.fingerprint, built_at = s.built_at, latest_keys = s.latest_keys "
        "WHEN NOT MATCHED THEN INSERT BY NAME",
        [table, fingerprint, now, keys],
    )
    return ("appended" if append else "rebuilt"), seconds


def _unseen_extractions(con, entity: Entity, table: str) -> bool:
    """Whether the raw tables hold rows of an extraction the history was not built from (every extraction it was
    built from is in ops.canonical_extracts, also those whose rows the contract quarantined)."""
    if not all(table_exists(con, f"raw.{r}") for r in entity.raw):
        return True
    raw = " UNION ".join(f"SELECT DISTINCT _extract_id FROM raw.{r}" for r in entity.raw)
    return bool(
        con.execute(
            f"SELECT 1 FROM ({raw}) AS x WHERE _extract_id NOT IN "
            "(SELECT extract_id FROM ops.canonical_extracts WHERE table_name = ?) LIMIT 1",
            [table],
        ).fetchall()
    )


def _latest_keys(con, entity: Entity, table: str, before: int | None) -> int | None:
    """The distinct keys of the history once the validated new rows (``_new_rows``) are appended: those it held
    plus the keys new to it, counted among the few rows that share a key with them. None: count them whole."""
    if not entity.latest_key or before is None:
        return None
    k = entity.latest_key
    new = con.execute(
        f"SELECT count(DISTINCT n.{k}) FROM _new_rows AS n WHERE n.{k} NOT IN "
        f"(SELECT h.{k} FROM {table} AS h WHERE h.{k} IN (SELECT r.{k} FROM _new_rows AS r))"
    ).fetchall()[0][0]
    return before + new


def build_canonical_asset(entity: Entity) -> dg.AssetsDefinition:
    key = dg.AssetKey(["canonical", entity.name])

    @dg.asset(
        key=key,
        group_name="canonical",
        pool=writer_pool(key),
        # an as-of macro may read another entity's (time entries on a project the PSA lacks: `unplaced`): DuckDB
        # binds a macro when it is created
        deps=[dg.AssetKey(["raw", r]) for r in entity.raw]
        + deps_of(*(f"canonical/{d}_asof" for d in (entity.view_name, *entity.derived)), itself=key),
        owners=[TEAM[entity.owner]],
        kinds={"duckdb", "pandera"},
        tags={"layer": "canonical", "source": entity.source},
        description=f"{entity.description}\n\nTable `canonical.{entity.name}_history` (all versions, validated by "
        f"`{entity.contract.__name__}`); as-of view `canonical.{entity.view_name}_asof(DATE)`; latest "
        f"state `canonical.{entity.view_name}`. Rows breaking the contract go to "
        f"`quarantine.canonical_rejects` and `ops.exceptions`.",
        check_specs=[
            dg.AssetCheckSpec(
                "contract",
                asset=key,
                description=f"pandera {entity.contract.__name__}: fails when more than the "
                f"configured share of rows is quarantined",
            )
        ],
    )
    def canonical_asset(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: PssyncSettings):
        now = now_utc()
        table = f"canonical.{entity.name}_history"
        with warehouse.connect() as con:
            con.begin()
            build, contract_seconds = build_history(con, entity, now)
            totals = outcome(con, table)
            record_exceptions(
                con,
                "canonical",
                entity.source,
                entity.name,
                [(k, r, f"{table}: {m}", entity.owner, None, None) for k, r, m in still_broken(con, table)],
                now,
                resolve_others=True,
            )
            for view in (entity.view_name, *entity.derived):
                create_asof_view(con, view)
            latest = con.execute(
                f"SELECT latest_keys FROM ops.canonical_builds WHERE table_name = '{table}'"
                if entity.latest_key
                else f"SELECT count(*) FROM canonical.{entity.view_name}"
            ).fetchall()[0][0]
            schema = con.execute(f"DESCRIBE {table}").fetchall()
            con.commit()
        limit = settings.quarantine_max_share  # share of rows in quarantine the check tolerates
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": latest,
                "history_rows": totals.rows - totals.quarantined,
                "quarantined": totals.quarantined,
                "quarantined_by_rule": totals.by_rule,
                "build": build,
                "contract_seconds": round(contract_seconds, 3),
                "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(n, t) for n, t, *_ in schema]),
            }
        )
        yield dg.AssetCheckResult(
            check_name="contract",
            asset_key=key,
            passed=totals.share <= limit,
            severity=dg.AssetCheckSeverity.ERROR if totals.share > limit else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows": totals.rows,
                "quarantined": totals.quarantined,
                "share": round(totals.share, 6),
                "max_share": limit,
                "by_rule": totals.by_rule,
            },
        )

    return canonical_asset


XWALKS = {
    "xwalk_client_customer": "CRM account <-> ERP customer",
    "xwalk_resource_employee": "PSA resource <-> HR employee",
    "xwalk_project_contract": "PSA project <-> CRM root contract <-> ERP project code",
}
XWALK_OWNER = {"xwalk_client_customer": "finance", "xwalk_resource_employee": "hr", "xwalk_project_contract": "finance"}
XWALK_KEY = {
    "xwalk_client_customer": "crm_account_id",
    "xwalk_resource_employee": "CAST(resource_id AS VARCHAR)",
    "xwalk_project_contract": "project_code",
}


@dg.asset(
    key=dg.AssetKey(["canonical", "crosswalks"]),
    group_name="canonical",
    pool=writer_pool(dg.AssetKey(["canonical", "crosswalks"])),
    deps=deps_of(*(f"canonical/{x}_asof" for x in XWALKS), itself=dg.AssetKey(["canonical", "crosswalks"])),
    owners=[TEAM["integration"]],
    kinds={"duckdb"},
    tags={"layer": "canonical"},
    description="Crosswalks between systems, as-of views `canonical.<xwalk>_asof(DATE)`: "
    + "; ".join(f"`{k}`: {v}" for k, v in XWALKS.items())
    + ". Unmatched keys are listed with their match_status and recorded in `ops.exceptions`, never guessed.",
)
def crosswalks(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    now = now_utc()
    meta = {}
    with warehouse.connect() as con:
        con.begin()
        for name in XWALKS:
            create_asof_view(con, name)
            # the latest state, computed once for the coverage and the gaps
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _xwalk AS "
                f"SELECT {XWALK_KEY[name]} AS k, match_status FROM canonical.{name}"
            )
            total, matched = con.execute(
                "SELECT count(*), count(*) FILTER (match_status IN ('MATCHED', 'NOT_REQUIRED')) FROM _xwalk"
            ).fetchall()[0]
            gaps = con.execute(
                "SELECT k, match_status FROM _xwalk WHERE match_status NOT IN ('MATCHED', 'NOT_REQUIRED') ORDER BY 1"
            ).fetchall()
            record_exceptions(
                con,
                "canonical",
                "crosswalk",
                name,
                [(str(k), s, f"{XWALKS[name]}: {k} is {s}", XWALK_OWNER[name], None, None) for k, s in gaps],
                now,
                resolve_others=True,
            )
            meta[f"{name}_coverage"] = round(matched / total, 4) if total else 1.0
            meta[f"{name}_unmatched"] = [str(k) for k, _ in gaps][:50]
        con.execute("DROP TABLE _xwalk")
        con.commit()
    return dg.MaterializeResult(metadata=meta)


canonical_assets = [build_canonical_asset(e) for e in ENTITIES] + [crosswalks]
