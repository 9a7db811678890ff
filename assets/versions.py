"""Published per-as-of-date tables kept as versions, so that a year of nightly runs costs what changed, not a copy of
the history per night.

A row is stored once with the range of as-of dates over which it holds (``valid_from`` .. ``valid_to``, both
inclusive; ``9999-12-31`` while it holds on the newest date written). The table under its published name is a view
that yields each stored row once for every as-of date written within its range (``ops.as_of_dates``), with the
columns that follow from the date alone (a WIP age, say) computed as it is read. Writing date D compares D's rows
with the versions in force on D, key by key: an unchanged row is left alone, a changed or vanished one is cut
around D, a new or changed one is stored from D. Written dates may come in any order (backfills, replays): every
date reads back exactly the rows its query gave when it was last written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import duckdb

from resources.warehouse import LEGAL_ENTITY, bound_params, sql_text, table_exists

OPEN = date(9999, 12, 31)


@dataclass(frozen=True)
class Versioned:
    """How a published table is kept: its natural key within one as-of date, and the columns computed from the
    date when read (SQL over the stored row ``v`` and the date ``d.as_of_date``)."""

    key: tuple[str, ...]
    derived: dict[str, str] = field(default_factory=dict)


VERSIONED = {
    "recon.time_to_bill": Versioned(
        key=("time_entry_id",),
        derived={"age_days": "wip_age_days(v.recon_status, v.approved_at, d.as_of_date)"},
    ),
    # the marts with a row per employee-week or project-month of the whole history: only the open week or month,
    # and what the day's changes touch, differ from one date to the next
    "marts.utilization_weekly": Versioned(
        key=("employee_id", "week_start"), derived={"week_complete": "v.week_start + 6 <= d.as_of_date"}
    ),
    "marts.realization_monthly": Versioned(key=("project_code", "month")),
    # what each entry has consumed of its contract's not-to-exceed cap (recon.time_to_bill sums it per contract)
    "recon.cap_usage": Versioned(key=("time_entry_id",)),
    "marts.project_margin": Versioned(key=("project_code", "month")),
}


def store_of(table: str) -> str:
    return f"{table}__versions"


def written_dates(con: duckdb.DuckDBPyConnection, table: str) -> list[date]:
    return [
        d
        for (d,) in con.execute(
            "SELECT as_of_date FROM ops.as_of_dates WHERE table_name = ? ORDER BY 1", [table]
        ).fetchall()
    ]


def latest_written(con: duckdb.DuckDBPyConnection, table: str) -> date | None:
    dates = written_dates(con, table)
    return dates[-1] if dates else None


def write_versions(
    con: duckdb.DuckDBPyConnection, table: str, query_name: str, params: dict, within: str | None = None
) -> int:
    """Make ``table`` read, for ``params['as_of']``, exactly the rows of ``sql/<query_name>.sql``; store only what
    differs from the versions in force on that date. With ``within`` (a query of keys), the query yields only the
    rows of those keys and only they are compared: every other row of the date stays as it is. The caller holds
    the transaction. Returns the date's rows."""
    query = sql_text(query_name)
    return write_rows(con, table, table, query, bound_params(query, params), params["as_of"], within)


def write_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    published: str,
    rows_sql: str,
    params: dict | list,
    as_of: date,
    within: str | None = None,
    materialized: bool = False,
) -> int:
    """`write_versions` of the rows a query yields (``rows_sql`` with ``params``) into ``table``, kept as the
    published table ``published`` says (VERSIONED): the table itself, or one legal entity's part of it. With
    ``materialized`` (``rows_sql`` reads a table already computed, without parameters), the rows are read where they
    are instead of copied first."""
    spec = VERSIONED[published]
    columns = [(n, t) for n, t, *_ in con.execute(f"DESCRIBE {rows_sql}", params).fetchall()]
    _ensure_store(con, table, spec, columns)
    stored = ", ".join(f'"{n}"' for n, _ in columns if n not in spec.derived and n != "as_of_date")
    kind = "VIEW" if materialized else "TABLE"
    con.execute(f"CREATE OR REPLACE TEMP {kind} _v_new AS SELECT {stored} FROM ({rows_sql})", params)
    return _store_date(con, table, spec, as_of, within, kind)


# --- published tables split by legal entity -------------------------------------------------------------------
# Each legal entity writes a table of its own (a shared warehouse detects conflicting writes per table, so entities
# writing one table side by side would refuse each other's commits); the published name is a view over them all.


def entity_table(table: str, entity: str) -> str:
    """The table that holds legal entity ``entity``'s rows of the published table ``table``."""
    if not LEGAL_ENTITY.fullmatch(entity or ""):
        raise ValueError(f"legal entity {entity!r} is not 2 to 12 capital letters or digits")
    return f"{table}__le_{entity.lower()}"  # le_: never one of the suffixes of a table's own (__versions)


def is_entity_part(table: str) -> bool:
    """Whether ``table`` is one legal entity's part of a published table (`entity_table`)."""
    return published_of(table) != table


def published_of(table: str) -> str:
    """The published table that ``table`` is one legal entity's part of (`entity_table`), else ``table`` itself."""
    return re.sub(r"__le_[a-z0-9]{2,12}$", "", table)


def is_kept_as_versions(table: str) -> bool:
    """Whether ``table``, a published table or an entity's part of one, is kept as versions."""
    return published_of(table) in VERSIONED


def entity_parts(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The legal entities that have a part of ``table``, in order."""
    schema, name = table.split(".")
    rows = con.execute(  # a part is a view over its versions, or a table rewritten per date
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND schema_name = $s "
        "AND regexp_full_match(view_name, $p) UNION SELECT table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = $s AND regexp_full_match(table_name, $p) "
        "ORDER BY 1",
        {"s": schema, "p": f"{name}__le_[a-z0-9]{{2,12}}"},
    ).fetchall()
    return [v.removeprefix(f"{name}__le_").upper() for (v,) in rows]


def ensure_firm_view(con: duckdb.DuckDBPyConnection, table: str, typed_as: str | None = None) -> None:
    """The published name of a table split by legal entity: a view over every entity's part (the firm-wide table),
    replaced only when an entity was added, so that runs of known entities change no shared catalog entry. Before
    any entity has a part, and given ``typed_as`` (a table or view with the published columns), a view with those
    columns and no row: a date no entity settles still reads an empty table, not a missing one."""
    schema, name = table.split(".")
    parts = entity_parts(con, table)
    if not parts:
        if typed_as and not table_exists(con, table):
            columns = con.execute(f"DESCRIBE {typed_as}").fetchall()
            select = ", ".join(f'CAST(NULL AS {col_type}) AS "{col}"' for col, col_type, *_ in columns)
            con.execute(f"CREATE VIEW {table} AS SELECT {select} WHERE false")
        return
    current = con.execute(
        "SELECT sql FROM duckdb_views() WHERE database_name = current_database() AND schema_name = ? AND view_name = ?",
        [schema, name],
    ).fetchall()
    if current and sorted(set(re.findall(rf"\b{name}__le_([a-z0-9]{{2,12}})\b", current[0][0]))) == [
        p.lower() for p in parts
    ]:
        return
    body = " UNION ALL BY NAME ".join(f"SELECT * FROM {entity_table(table, p)}" for p in parts)
    con.execute(f"CREATE OR REPLACE VIEW {table} AS {body}")


def split_by_entity(con: duckdb.DuckDBPyConnection, table: str, entity_of: str | None = None) -> None:
    """A warehouse written before ``table`` was split by legal entity: its rows (versions, or a copy per date) become
    each entity's part, by the rows' ``legal_entity``, or where they have none by ``entity_of`` (SQL over the stored
    row ``r``); without either the table is dropped, to be written again by the next run of each date. The
    published name becomes the firm-wide view. A row no entity owns is dropped: replaying its date restores it."""
    spec = VERSIONED.get(table)
    base = table_exists(con, table) and _is_base_table(con, table)
    if spec and base:  # older still: one copy per date, first folded into versions
        columns = [(n, t) for n, t, *_ in con.execute(f"DESCRIBE {table}").fetchall()]
        _ensure_store(con, table, spec, columns)
    source = store_of(table) if spec else (table if base else None)
    if source is None or not table_exists(con, source):
        return
    columns = [(n, t) for n, t, *_ in con.execute(f"DESCRIBE {table}").fetchall()]
    have = {r[0] for r in con.execute(f"DESCRIBE {source}").fetchall()}
    entity = "r.legal_entity" if "legal_entity" in have else entity_of
    if spec:
        con.execute(f"DROP VIEW IF EXISTS {table}")
    if entity:
        added = "" if "legal_entity" in have else f", {entity} AS legal_entity"
        if "legal_entity" not in have:
            columns.insert(
                len(columns) - 1 if columns[-1][0] == "as_of_date" else len(columns), ("legal_entity", "VARCHAR")
            )
        con.execute(f"CREATE OR REPLACE TEMP TABLE _split_old AS SELECT r.*{added} FROM {source} r")
        for (e,) in con.execute("SELECT DISTINCT legal_entity FROM _split_old ORDER BY 1").fetchall():
            if not LEGAL_ENTITY.fullmatch(e or ""):
                continue  # a row no entity can own: written again by the next run of its date
            part = entity_table(table, e)
            con.execute(
                f"CREATE TABLE {store_of(part) if spec else part} AS SELECT * FROM _split_old WHERE legal_entity = ?",
                [e],
            )
            if spec:
                con.execute(
                    "INSERT INTO ops.as_of_dates SELECT ?, as_of_date FROM ops.as_of_dates WHERE table_name = ?",
                    [part, table],
                )
                _ensure_store(con, part, spec, columns)
        con.execute("DROP TABLE _split_old")
    con.execute(f"DROP TABLE {source}")
    if spec:
        con.execute("DELETE FROM ops.as_of_dates WHERE table_name = ?", [table])
    ensure_firm_view(con, table)


def _store_date(
    con: duckdb.DuckDBPyConnection,
    table: str,
    spec: Versioned,
    as_of: date,
    within: str | None = None,
    new_kind: str = "TABLE",
) -> int:
    """Store the rows of temp table (or view, ``new_kind``) ``_v_new`` as ``table`` on ``as_of`` (only the keys
    ``within`` yields, if given)."""
    store = store_of(table)
    cols = [r[0] for r in con.execute("DESCRIBE _v_new").fetchall()]
    col_list = ", ".join(f'"{c}"' for c in cols)
    dates = [d for d in written_dates(con, table) if d != as_of]
    prev = max((d for d in dates if d < as_of), default=None)
    nxt = min((d for d in dates if d > as_of), default=None)
    keys = ", ".join(f'"{k}"' for k in spec.key)
    twice = con.execute(f"SELECT {keys} FROM _v_new GROUP BY ALL HAVING count(*) > 1 LIMIT 1").fetchall()
    if twice:  # the comparison below is by key: a key twice would store an arbitrary one of its rows
        raise ValueError(f"{table} on {as_of}: key ({', '.join(spec.key)}) = {twice[0]} appears twice")
    if dates or con.execute(f"SELECT 1 FROM {store} LIMIT 1").fetchall():
        _store_changes(con, store, spec, cols, as_of, prev, nxt, within)
    else:  # no version yet (a table's first date, a new legal entity's part): every row is new, nothing to compare
        con.execute(
            f"INSERT INTO {store} ({col_list}, valid_from, valid_to) SELECT n.*, $d::DATE, $to::DATE FROM _v_new n",
            {"d": as_of, "to": OPEN},
        )
    con.execute(
        "MERGE INTO ops.as_of_dates AS t USING (SELECT ? AS table_name, ?::DATE AS as_of_date) AS s "
        "ON t.table_name = s.table_name AND t.as_of_date = s.as_of_date WHEN NOT MATCHED THEN INSERT BY NAME",
        [table, as_of],
    )
    if within:
        rows = con.execute(f"SELECT count(*) FROM {store} WHERE valid_from <= $d AND valid_to >= $d", {"d": as_of})
    else:
        rows = con.execute("SELECT count(*) FROM _v_new")
    rows = rows.fetchall()[0][0]
    con.execute(f"DROP {new_kind} _v_new")
    return rows


def _store_changes(
    con: duckdb.DuckDBPyConnection,
    store: str,
    spec: Versioned,
    cols: list[str],
    as_of: date,
    prev: date | None,
    nxt: date | None,
    within: str | None,
) -> None:
    """Store what ``_v_new`` changes against the versions in force on ``as_of``, between the written dates ``prev``
    and ``nxt`` around it."""
    col_list = ", ".join(f'"{c}"' for c in cols)
    keys = ", ".join(f'"{k}"' for k in spec.key)
    k0 = spec.key[0]
    on = " AND ".join(f'n."{k}" = o."{k}"' for k in spec.key)
    # the keys whose row on this date differs from the version in force, or exists on one side only
    same = " AND ".join(f'n."{c}" IS NOT DISTINCT FROM o."{c}"' for c in cols)
    scoped = f" AND ({keys}) IN ({within})" if within else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _v_changed AS
        SELECT {", ".join(f'coalesce(n."{k}", o."{k}") AS "{k}"' for k in spec.key)},
               o.valid_from AS old_from, n."{k0}" IS NOT NULL AS has_new
        FROM _v_new n
        FULL JOIN (SELECT * FROM {store} WHERE valid_from <= $d AND valid_to >= $d{scoped}) AS o ON {on}
        WHERE n."{k0}" IS NULL OR o."{k0}" IS NULL OR NOT ({same})""",
        {"d": as_of},
    )
    match = " AND ".join(f'x."{k}" = c."{k}"' for k in spec.key)
    changed_old = f"EXISTS (SELECT 1 FROM _v_changed c WHERE {match} AND c.old_from = x.valid_from)"
    if nxt is not None:  # a changed version goes on holding from the next written date ...
        con.execute(
            f"INSERT INTO {store} SELECT * REPLACE ($nxt::DATE AS valid_from) FROM {store} x "
            f"WHERE {changed_old} AND x.valid_to >= $nxt",
            {"nxt": nxt},
        )
    if prev is not None:  # ... and held until the previous one
        con.execute(
            f"UPDATE {store} x SET valid_to = $prev WHERE {changed_old} AND x.valid_from <= $prev", {"prev": prev}
        )
    con.execute(f"DELETE FROM {store} x WHERE {changed_old} AND x.valid_to >= $d", {"d": as_of})
    con.execute(
        f"INSERT INTO {store} ({col_list}, valid_from, valid_to) SELECT n.*, $d::DATE, $to::DATE FROM _v_new n "
        f"WHERE EXISTS (SELECT 1 FROM _v_changed c WHERE {match.replace('x.', 'n.')} AND c.has_new)",
        {"d": as_of, "to": as_of if nxt is not None else OPEN},
    )
    con.execute("DROP TABLE _v_changed")


def _ensure_store(con: duckdb.DuckDBPyConnection, table: str, spec: Versioned, columns: list[tuple[str, str]]) -> None:
    """The versions table (with any column the query gained), and the view under the published name. A warehouse
    written before versions were kept has the table itself: its dates are folded into versions, oldest first."""
    store = store_of(table)
    legacy = _is_base_table(con, table)
    if legacy:
        con.execute(f"ALTER TABLE {table} RENAME TO {table.split('.')[1]}__partitioned")
    stored = [(n, t) for n, t in columns if n not in spec.derived and n != "as_of_date"]
    if not table_exists(con, store):
        body = ", ".join(f'"{n}" {t}' for n, t in stored)
        con.execute(f"CREATE TABLE {store} ({body}, valid_from DATE NOT NULL, valid_to DATE NOT NULL)")
    else:
        have = {r[0] for r in con.execute(f"DESCRIBE {store}").fetchall()}
        for n, t in stored:
            if n not in have:  # a column added to a published table: NULL in the versions written before it
                con.execute(f'ALTER TABLE {store} ADD COLUMN "{n}" {t}')
    select = ", ".join(
        f'{spec.derived[n]} AS "{n}"' if n in spec.derived else ("d.as_of_date" if n == "as_of_date" else f'v."{n}"')
        for n, _ in columns
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {table} AS SELECT {select} FROM {store} v "
        f"JOIN ops.as_of_dates d ON d.table_name = '{table}' AND d.as_of_date BETWEEN v.valid_from AND v.valid_to"
    )
    if legacy:
        _fold_legacy(con, table, f"{table}__partitioned", spec, stored)


def _is_base_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = ? "
            "AND table_name = ? AND table_type = 'BASE TABLE'",
            [schema, name],
        ).fetchall()
    )


def _fold_legacy(con, table: str, legacy: str, spec: Versioned, stored: list[tuple[str, str]]) -> None:
    """Each as-of date of a table written as a copy per date becomes versions, oldest first; then the copy goes."""
    have = {r[0] for r in con.execute(f"DESCRIBE {legacy}").fetchall()}
    cols = ", ".join(f'"{n}"' if n in have else f'NULL::{t} AS "{n}"' for n, t in stored)
    for (d,) in con.execute(f"SELECT DISTINCT as_of_date FROM {legacy} ORDER BY 1").fetchall():
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _v_new AS SELECT {cols} FROM {legacy} WHERE as_of_date = $d", {"d": d}
        )
        _store_date(con, table, spec, d)
    con.execute(f"DROP TABLE {legacy}")
