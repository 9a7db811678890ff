"""Incremental reconciliation: a run of an as-of date that was already reconciled recomputes only the time entries
whose inputs changed since that run, and the entries bound to them by a not-to-exceed cap.

What a write of ``recon.time_to_bill`` for date D saw is kept in ``ops.recon_inputs`` (for a legal entity's part, in
the part's own ``<part>__inputs``): per input table, how far
its arrivals went (the newest extraction or ledger record, and the rows up to it) and the build of the table (its
fingerprint in ``ops.canonical_builds``), plus a fingerprint of the recon SQL and its parameters. The next run of
D compares, and recomputes:

* the entries that rows arrived since touch: a new version of the entry, a new invoice-lines file or invoice
  status of an invoice that carries it, a batch of another date that carries it (``billing.ledger``);
* every entry of a project whose PSA project or assignment rows arrived since;
* the entry or project of a ``recon.billing_holds`` row of D that appeared or went since the holds that write
  read (kept in ``<part>__holds_seen``), unless the hold's scope is wider;
* on every contract with a not-to-exceed cap (in any version) that one of the above is on, and on every capped
  contract those contracts' projects were ever on, until nothing is added: the entries of the cap window on D
  (unbilled, over the cap, or held while unbilled), whose place in the cap-crossing order of docs/recon.md the change
  can move. What the contracts' other entries consumed of the cap (their billed and batched hours) is kept per
  entry in ``recon.cap_usage``, recomputed for the same entries: an entry's consumption changes only with its own
  inputs.

Anything else (rate cards, contracts, resources, HR, crosswalks, currency rates, customers, a table rebuilt rather
than appended to, changed SQL or settings, no earlier run of D) cannot be bounded: the date is recomputed whole.
The recomputed rows are compared, key by key, with the rows in force on D (assets/versions.py); every other row
stays as written, and ``ops.exceptions`` is updated for the recomputed entries only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import date

import duckdb

from assets.dependencies import tables_of
from assets.recon.kept import APPENDED, CAPPED_PROJECTS, TIME_TO_BILL, Kept, Scope
from assets.versions import entity_table, is_entity_part, store_of
from resources.warehouse import SQL_DIR, sql_text, table_exists


def _read(kept: Kept) -> tuple[list[str], list[str]]:
    """The tables recon's queries read (canonical histories, through the as-of macros, also where a macro is given
    the table's name as text, as snapshot_asof is; and the billing ledger), and the SQL files they run."""
    seen: set[str] = set()
    todo = list(kept.queries)
    found, files = set(), []
    while todo:
        files.append(todo.pop())
        text = sql_text(files[-1])
        named = {f"canonical.{n}" for n in re.findall(r"'canonical\.(\w+)'", text)}
        for table in tables_of(text) | named:
            schema, name = table.split(".")
            if table == "billing.ledger":
                found.add(table)
            if schema != "canonical" or table in seen:
                continue
            seen.add(table)
            if name.endswith("_history"):
                found.add(table)
            elif name.endswith("_asof"):
                todo.append(f"canonical/{name}")
    return sorted(found), sorted(files)


def inputs(kept: Kept = TIME_TO_BILL) -> list[str]:
    """Every canonical history table recon's queries read, and the billing ledger if they read it."""
    return _read(kept)[0]


def query_fingerprint(params: dict, kept: Kept = TIME_TO_BILL) -> str:
    """The recon SQL, the as-of macros it reads through, the macros and the parameters: rows written under another
    build are not comparable."""
    settled = sorted((k, str(v)) for k, v in params.items() if k not in ("scoped", "legal_entities"))
    macros = [path.read_text(encoding="utf-8") for path in sorted((SQL_DIR / "canonical").glob("*_macros.sql"))]
    parts = [sql_text(q) for q in _read(kept)[1]] + [sql_text("ddl/macros"), *macros, repr(settled)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _build_of(con, table: str) -> str:
    if table == "billing.ledger":
        return "ledger"
    rows = con.execute("SELECT fingerprint FROM ops.canonical_builds WHERE table_name = ?", [table]).fetchall()
    return rows[0][0] if rows else "none"


def _state_now(con, table: str, as_of: date) -> tuple[str, object, int]:
    """(build, newest arrival, rows) of one input as a run of ``as_of`` sees it."""
    if table == "billing.ledger":
        newest_sql = "SELECT max(recorded_at) FROM billing.ledger WHERE as_of_date <= $d"
    else:  # a canonical history: the start of the newest extraction it holds
        newest_sql = (
            "SELECT max(started_at) FROM ops.sync_runs WHERE extract_id IN "
            f"(SELECT extract_id FROM ops.canonical_extracts WHERE table_name = '{table}')"
        )
    newest = con.execute(newest_sql, {"d": as_of} if "$d" in newest_sql else {}).fetchall()[0][0]
    rows = con.execute(f"SELECT count(*) FROM {table} WHERE {_seen_on(table)}", {"d": as_of}).fetchall()[0][0]
    return _build_of(con, table), newest, rows


def _arrival(table: str, op: str) -> str:
    """Rows of an input that arrived before (op ``<=``) or after (``>``) the instant $s: canonical histories by
    the start of the extraction that brought them, the ledger by when a batch recorded them."""
    if table == "billing.ledger":
        return f"recorded_at {op} CAST($s AS TIMESTAMP)"
    return f"_extract_id IN (SELECT extract_id FROM ops.sync_runs WHERE started_at {op} CAST($s AS TIMESTAMP))"


def _seen_on(table: str) -> str:
    """The rows of an input a run of date $d reads (the ledger: batches up to that date)."""
    return "as_of_date <= $d" if table == "billing.ledger" else "$d IS NOT NULL"


def inputs_kept(con, kept: Kept) -> str:
    """Where what the writes of ``kept`` saw is kept: ``ops.recon_inputs``, or for a legal entity's part a table of
    the part's own (``<part>__inputs``), since a shared warehouse refuses two transactions that rewrite rows of one
    table side by side, and the entities of a date reconcile side by side."""
    if not is_entity_part(kept.table):
        return "ops.recon_inputs"
    table = f"{kept.table}__inputs"
    if not table_exists(con, table):
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM ops.recon_inputs WHERE FALSE")
    return table


def holds_seen(kept: Kept = TIME_TO_BILL) -> str:
    """The table keeping, per as-of date, the holds of ``recon.billing_holds`` the last write of ``kept`` read."""
    return f"{kept.table}__holds_seen"


def snapshot_holds(con, as_of: date, kept: Kept = TIME_TO_BILL) -> bool:
    """The holds the previous write of the date read (temp table _old_holds); False when they were not kept (a
    warehouse written before they were, or no earlier write): the date is then recomputed whole."""
    if not table_exists(con, holds_seen(kept)):
        return False
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _old_holds AS SELECT * FROM {holds_seen(kept)} WHERE as_of_date = ?", [as_of]
    )
    return True


def _keep_holds_seen(con, as_of: date, kept: Kept) -> None:
    """What the holds of the date are as this write reads them, for the next write's ``snapshot_holds``."""
    seen = holds_seen(kept)
    if table_exists(con, seen) and [r[:2] for r in con.execute(f"DESCRIBE {seen}").fetchall()] != [
        r[:2] for r in con.execute("DESCRIBE recon.billing_holds").fetchall()
    ]:
        con.execute(f"DROP TABLE {seen}")  # the holds gained a column: the dates kept before are recomputed whole
    if not table_exists(con, seen):
        con.execute(f"CREATE TABLE {seen} AS SELECT * FROM recon.billing_holds WHERE FALSE")
    con.execute(f"DELETE FROM {seen} WHERE as_of_date = ?", [as_of])
    con.execute(f"INSERT INTO {seen} SELECT * FROM recon.billing_holds WHERE as_of_date = ?", [as_of])


def for_entity(entity: str, kept: Kept = TIME_TO_BILL) -> Kept:
    """What one legal entity keeps of a table split by entity: its own part (assets/versions.py, entity_table)."""
    return replace(kept, table=entity_table(kept.table, entity))


def plan(con: duckdb.DuckDBPyConnection, as_of: date, params: dict, kept: Kept = TIME_TO_BILL) -> Scope:
    """Decide what this run of ``as_of`` recomputes of ``kept`` (recon.time_to_bill, or one legal entity's part of
    it, with recon.cap_usage); when it is bounded, temp table ``_recon_entries`` holds the entries whose rows it
    recomputes."""
    if not table_exists(con, store_of(kept.table)):
        return Scope("no versions stored")
    if not snapshot_holds(con, as_of, kept):
        return Scope("the holds the earlier run read were not kept")
    states: dict = {}
    reason = _arrivals_since(con, kept, as_of, params, states) or _changed_holds(con, as_of)
    if reason:
        return Scope(reason, states=states)
    projects = _capped_closure(con)
    # recomputed: what changed, and on the capped contracts it reaches the entries of the cap window on the date
    # (unbilled, over the cap, or held while unbilled): an entry's place in that window moves only theirs
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _recon_entries AS
        WITH cap_entries AS (
            SELECT DISTINCT time_entry_id FROM canonical.time_entry_history
            WHERE project_id IN (SELECT project_id FROM _cap_projects)
        ),
        recompute AS (
            SELECT time_entry_id FROM _touched_entries
            UNION SELECT time_entry_id FROM canonical.time_entry_history
                  WHERE project_id IN (SELECT project_id FROM _changed_projects)
            UNION SELECT time_entry_id FROM {store_of(kept.table)}
                  WHERE valid_from <= $d AND valid_to >= $d
                    AND (recon_status IN ('UNBILLED', 'OVER_CAP') OR reason = 'INPUT_HELD')
                    AND time_entry_id IN (SELECT time_entry_id FROM cap_entries)
        )
        SELECT DISTINCT time_entry_id, TRUE AS recompute FROM recompute WHERE time_entry_id IS NOT NULL""",
        {"d": as_of},
    )
    entries = con.execute("SELECT count(*) FROM _recon_entries").fetchall()[0][0]
    con.execute("DROP TABLE _touched_entries; DROP TABLE _changed_projects; DROP TABLE _cap_projects")
    return Scope(None, projects, entries, states)


def plan_entries(con: duckdb.DuckDBPyConnection, kept: Kept, as_of: date, params: dict) -> Scope:
    """What a run of ``as_of`` recomputes of a table whose rows depend on single entries (``kept`` bounds every
    arrival it can bound to entries): temp table ``_recon_entries`` holds the entries touched."""
    states: dict = {}
    reason = _arrivals_since(con, kept, as_of, params, states)
    if reason:
        return Scope(reason, states=states)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _recon_entries AS SELECT DISTINCT time_entry_id, TRUE AS recompute "
        "FROM _touched_entries WHERE time_entry_id IS NOT NULL"
    )
    entries = con.execute("SELECT count(*) FROM _recon_entries").fetchall()[0][0]
    con.execute("DROP TABLE _touched_entries; DROP TABLE _changed_projects")
    return Scope(None, 0, entries, states)


def _arrivals_since(con, kept: Kept, as_of: date, params: dict, states: dict) -> str | None:
    """Temp tables ``_touched_entries`` and ``_changed_projects``: what rows arrived in ``kept``'s inputs since the
    date's last write touch; a reason to recompute the date whole when that cannot be bounded. ``states`` gets
    the state of every input read, for ``remember``."""
    state = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT input, fingerprint, newest, rows_through FROM {inputs_kept(con, kept)} "
            "WHERE table_name = ? AND as_of_date = ?",
            [kept.table, as_of],
        ).fetchall()
    }
    if not state:
        return "no earlier run of this date"
    if state.get("query", (None,))[0] != query_fingerprint(params, kept):
        return "the recon SQL or its settings changed"
    con.execute("CREATE OR REPLACE TEMP TABLE _touched_entries (time_entry_id BIGINT)")
    con.execute("CREATE OR REPLACE TEMP TABLE _changed_projects (project_id BIGINT)")
    for table in inputs(kept):
        reason = _arrivals(con, kept, table, as_of, state.get(table), states)
        if reason:
            return reason
    return None


def _arrivals(con, spec: Kept, table: str, as_of: date, state: tuple | None, states: dict) -> str | None:
    """Add the entries or projects that rows arrived in ``table`` since the kept state touch; a reason when they
    cannot be bounded."""
    if not table_exists(con, table):
        return None if state is None else f"{table} is gone"
    build, newest, rows = _state_now(con, table, as_of)
    states[table] = (build, newest, rows)
    if state is None:
        return f"{table} was not read by the earlier run"
    kept_build, kept_newest, kept_rows = state
    if build != kept_build:
        return f"{table} was rebuilt"
    if newest == kept_newest and rows == kept_rows:  # no extraction or batch since, and no row gone
        return None
    seen = _seen_on(table)
    if table not in APPENDED:  # a table rebuilt each run: the rows of the earlier run's extractions must be the same
        up_to = con.execute(
            f"SELECT count(*) FROM {table} WHERE {seen} AND {_arrival(table, '<=')}", {"d": as_of, "s": kept_newest}
        ).fetchall()[0][0]
        if up_to != kept_rows:
            return f"{table} changed other than by new rows"
    if rows == kept_rows:
        return None
    if table not in spec.touched_entries and table not in spec.touched_projects:
        return f"{table} changed"
    after = _arrival(table, ">") if kept_newest is not None else "$s IS NULL"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _arrived AS SELECT * FROM {table} WHERE {seen} AND {after}",
        {"d": as_of, "s": kept_newest},
    )
    if table in spec.touched_entries:
        con.execute(f"INSERT INTO _touched_entries {spec.touched_entries[table]}")
    else:
        con.execute(f"INSERT INTO _changed_projects {spec.touched_projects[table]}")
    con.execute("DROP TABLE _arrived")
    return None


def _changed_holds(con, as_of: date) -> str | None:
    """Holds of the date that appeared or went since the earlier run: a project or entry hold bounds the change,
    a wider one does not."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _held_changed AS
        (SELECT * FROM _old_holds EXCEPT ALL SELECT * FROM recon.billing_holds WHERE as_of_date = $d)
        UNION ALL
        (SELECT * FROM recon.billing_holds WHERE as_of_date = $d EXCEPT ALL SELECT * FROM _old_holds)""",
        {"d": as_of},
    )
    wide = con.execute(
        "SELECT DISTINCT scope FROM _held_changed WHERE scope NOT IN ('project', 'time_entry') ORDER BY 1"
    ).fetchall()
    if not wide:
        con.execute(
            "INSERT INTO _changed_projects "
            "SELECT TRY_CAST(scope_key AS BIGINT) FROM _held_changed WHERE scope = 'project'"
        )
        con.execute(
            "INSERT INTO _touched_entries "
            "SELECT TRY_CAST(scope_key AS BIGINT) FROM _held_changed WHERE scope = 'time_entry'"
        )
    con.execute("DROP TABLE _held_changed; DROP TABLE _old_holds")
    return "billing holds changed for a " + ", ".join(s for (s,) in wide) + " scope" if wide else None


def _capped_closure(con) -> int:
    """Temp table ``_cap_projects``: the capped projects among those of touched entries and changed projects, then
    every project sharing a capped contract (in any version) with one of them, until none is added. Returns how
    many."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cap_projects AS
        SELECT DISTINCT project_id FROM (
            SELECT project_id FROM canonical.time_entry_history
            WHERE time_entry_id IN (SELECT time_entry_id FROM _touched_entries)
            UNION ALL SELECT project_id FROM _changed_projects
        ) AS p WHERE project_id IN ({CAPPED_PROJECTS})"""
    )
    while True:
        added = con.execute(
            f"""INSERT INTO _cap_projects
            SELECT DISTINCT project_id FROM canonical.project_history
            WHERE crm_contract_id IN (SELECT crm_contract_id FROM canonical.project_history
                                      WHERE project_id IN (SELECT project_id FROM _cap_projects))
              AND project_id IN ({CAPPED_PROJECTS})
              AND project_id NOT IN (SELECT project_id FROM _cap_projects)"""
        ).fetchall()[0][0]
        if not added:
            return con.execute("SELECT count(*) FROM _cap_projects").fetchall()[0][0]


def remember(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    params: dict,
    kept: Kept = TIME_TO_BILL,
    scope: Scope | None = None,
    known: dict | None = None,
) -> None:
    """Keep what this write of the date saw, for the next run of the same date (the inputs' states the run's
    ``scope`` read in this transaction, the others read now). ``known``: the states already read in this
    transaction for the same date (the legal entities of a date read the same firm-wide inputs), filled as read."""
    seen = scope.states if scope else {}
    known = {} if known is None else known
    if "recon/billing_holds" in kept.queries:
        _keep_holds_seen(con, as_of, kept)
    kept_in = inputs_kept(con, kept)
    con.execute(f"DELETE FROM {kept_in} WHERE table_name = ? AND as_of_date = ?", [kept.table, as_of])
    rows = [(kept.table, as_of, "query", query_fingerprint(params, kept), None, 0)]
    for table in inputs(kept):
        if table not in known:  # as the plan of this run saw it, in this transaction
            exists = table_exists(con, table)
            known[table] = (seen.get(table) or _state_now(con, table, as_of)) if exists else None
        if known[table] is not None:
            rows.append((kept.table, as_of, table, *known[table]))
    con.executemany(f"INSERT INTO {kept_in} VALUES (?, ?, ?, ?, ?, ?)", rows)
