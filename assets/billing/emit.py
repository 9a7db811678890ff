"""Emitting the billing batches of legal entities on one as-of date, exactly once.

A committed batch is immutable: a replay of its (date, entity) re-emits the stored lines, so files and the
staging table receive the same bytes and keys again. A new (date, entity) computes its lines, checks them,
records every key in the ledger and the lines in one transaction, then writes the files. Entities emit side by
side: a transaction touches only its entities' rows and takes their turns, so runs of different entities never
conflict, and two runs of one entity never both record it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb

from assets.common import now_utc, rollback
from resources.batch_files import (  # noqa: F401 - the batch files' shape, shared with the workbench
    BATCH_ENTITY,
    BATCH_ID,
    HEADER_COLUMNS,
    LINE_COLUMNS,
    BatchIntegrityError,
    batch_path,
)
from resources.outputs import OutputFolder, write_atomically
from resources.warehouse import bound_params, ddl_for, ensure_turn, sql_text, table_exists, take_turn


@dataclass
class Emission:
    as_of: date
    legal_entity: str
    replay: bool
    batches: list[dict] = field(default_factory=list)
    lines: dict[str, list[dict]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _ensure_tables(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    for table, query in (("billing.batch_lines", "billing/batch_lines"), ("billing.batches", "billing/batches")):
        if not table_exists(con, table):
            if table == "billing.batches":
                con.execute(
                    ddl_for(
                        con,
                        """CREATE TABLE billing.batches (batch_id VARCHAR PRIMARY KEY, as_of_date DATE,
                               legal_entity VARCHAR, customer_id BIGINT, currency VARCHAR, line_count INTEGER,
                               net_amount DECIMAL(18, 2), tax_amount DECIMAL(18, 2), gross_amount DECIMAL(18, 2))""",
                    )
                )
            else:
                query = sql_text(query)
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM ({query}) WHERE FALSE", bound_params(query, params))


def billable_entities(con: duckdb.DuckDBPyConnection, as_of: date) -> list[str]:
    """The legal entities whose billing runs on ``as_of``: every one its projects name (a line's entity is its
    project's). A name that could not be a batch id's is kept, so its run fails and says why (`entity_turn`)."""
    if not table_exists(con, "canonical.project_history"):
        return []
    query = sql_text("billing/billable_entities")
    return [e for (e,) in con.execute(query, bound_params(query, {"as_of": as_of})).fetchall()]


def integrity_problems(con: duckdb.DuckDBPyConnection, lines_table: str, as_of: date) -> list[str]:
    """Rules that must hold before emission: totals tie to lines, no key twice (here or in another
    batch), no time line for an entry recon flags, every line taxed."""
    p = []
    dup = con.execute(f"SELECT idempotency_key FROM {lines_table} GROUP BY 1 HAVING count(*) > 1 LIMIT 5").fetchall()
    if dup:
        p.append(f"keys carried twice in this emission: {[d[0] for d in dup]}")
    taken = con.execute(
        f"""SELECT l.idempotency_key, g.batch_id FROM {lines_table} l JOIN billing.ledger g
                            USING (idempotency_key) WHERE g.as_of_date <> ? LIMIT 5""",
        [as_of],
    ).fetchall()
    if taken:
        p.append(f"keys already carried by another batch: {taken}")
    flagged = con.execute(
        f"""
        SELECT l.idempotency_key, r.recon_status FROM {lines_table} l
        JOIN recon.time_to_bill r ON r.time_entry_id = l.source_id AND r.as_of_date = ?
        WHERE (l.item = 'PS-TM-HOURS' AND r.recon_status <> 'UNBILLED')
           OR (l.item = 'PS-ADJUSTMENT' AND r.recon_status <> 'HOURS_MISMATCH') LIMIT 5""",
        [as_of],
    ).fetchall()
    if flagged:
        p.append(f"lines for entries recon flags: {flagged}")
    untaxed = con.execute(f"SELECT idempotency_key FROM {lines_table} WHERE tax_amount IS NULL LIMIT 5").fetchall()
    if untaxed:
        p.append(f"lines without a tax rate for the customer's tax code: {[u[0] for u in untaxed]}")
    bad_amount = con.execute(f"""SELECT idempotency_key FROM {lines_table}
                                 WHERE amount <> round(quantity * rate, 2) LIMIT 5""").fetchall()
    if bad_amount:
        p.append(f"line amounts that are not round(quantity x rate, 2): {[b[0] for b in bad_amount]}")
    return p


def _totals_problems(con, params: dict) -> list[str]:
    off = con.execute(
        """
        SELECT b.batch_id FROM billing.batches b
        JOIN (SELECT batch_id, count(*) n, sum(amount) net, sum(tax_amount) tax FROM billing.batch_lines
              WHERE as_of_date = $as_of AND list_contains($legal_entities, legal_entity) GROUP BY 1) l USING (batch_id)
        WHERE b.line_count <> l.n OR b.net_amount <> l.net OR b.tax_amount <> l.tax
           OR b.gross_amount <> b.net_amount + b.tax_amount""",
        params,
    ).fetchall()
    return [f"batch totals differ from the sum of their lines: {[o[0] for o in off]}"] if off else []


def entity_turn(entity: str) -> str:
    """The turn of ``entity``'s emission: a table of its own, because a shared warehouse detects conflicting
    changes per table, and the entities of one date must not conflict with each other."""
    if not BATCH_ENTITY.fullmatch(entity or ""):
        raise BatchIntegrityError(f"legal entity {entity!r} is not 2 to 12 capital letters or digits: nothing billed")
    return f"billing_emission__{entity.lower()}"


def _recorded(con: duckdb.DuckDBPyConnection, as_of: date, entities: list[str]) -> set[str]:
    """The entities whose emission of ``as_of`` is committed: their batches are there, or their ledger keys (a
    date whose batches were all rejected has no batch left, and its keys stay free only once released)."""
    rows = con.execute(
        "SELECT DISTINCT legal_entity FROM billing.batches WHERE as_of_date = $as_of "
        "AND list_contains($legal_entities, legal_entity) "
        "UNION SELECT DISTINCT split_part(batch_id, '-', 2) FROM billing.ledger WHERE as_of_date = $as_of "
        "AND list_contains($legal_entities, split_part(batch_id, '-', 2))",
        {"as_of": as_of, "legal_entities": entities},
    ).fetchall()
    return {e for (e,) in rows}


def _record(con: duckdb.DuckDBPyConnection, as_of: date, turns: dict[str, str], ems: dict[str, Emission]) -> None:
    """One transaction: take the turn of every entity, leave out those a concurrent run recorded meanwhile, compute
    the others' lines in one query, and record (ledger, lines, headers) those whose lines pass every check."""
    con.begin()
    try:
        for turn in turns.values():
            take_turn(con, turn)  # two runs never record one entity's batches side by side (shared warehouse)
        done = _recorded(con, as_of, sorted(turns))  # inside the transaction: what committed before it began
        for entity in done:
            ems[entity].replay = True
        fresh = sorted(set(turns) - done)
        if not fresh:
            rollback(con)
            return
        query = sql_text("billing/batch_lines")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _lines AS {query}",
            bound_params(query, {"as_of": as_of, "legal_entities": fresh}),
        )
        for entity in fresh:  # checked entity by entity: one entity's fault holds only its own batches
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _entity_lines AS SELECT * FROM _lines WHERE legal_entity = ?", [entity]
            )
            ems[entity].problems = integrity_problems(con, "_entity_lines", as_of)
        good = [e for e in fresh if not ems[e].problems]
        if not good:
            rollback(con)
            return
        params = {"as_of": as_of, "legal_entities": good}
        con.execute(
            "INSERT INTO billing.batch_lines BY NAME SELECT * FROM _lines WHERE list_contains($e, legal_entity)",
            {"e": good},
        )
        con.execute(
            """INSERT INTO billing.ledger SELECT idempotency_key, item, source_id, source_revision, batch_id,
                       as_of_date, quantity, $at FROM _lines WHERE list_contains($e, legal_entity)""",
            {"at": now_utc(), "e": good},
        )
        query = sql_text("billing/batches")
        con.execute(f"INSERT INTO billing.batches BY NAME {query}", bound_params(query, params))
        totals = _totals_problems(con, params)
        if totals:
            rollback(con)
            for entity in good:
                ems[entity].problems = totals
            return
        con.commit()
    except BaseException:
        rollback(con)
        raise


def _read_back(con: duckdb.DuckDBPyConnection, as_of: date, ems: dict[str, Emission]) -> None:
    """The stored lines and headers of the entities of ``ems`` on ``as_of``, into their emissions."""
    params = {"as_of": as_of, "legal_entities": sorted(ems)}
    where = "WHERE as_of_date = $as_of AND list_contains($legal_entities, legal_entity)"
    for row in con.execute(
        f"SELECT {', '.join(LINE_COLUMNS)} FROM billing.batch_lines {where} ORDER BY batch_id, line_no", params
    ).fetchall():
        line = dict(zip(LINE_COLUMNS, row))
        ems[line["legal_entity"]].lines.setdefault(line["batch_id"], []).append(line)
    for row in con.execute(
        f"SELECT {', '.join(HEADER_COLUMNS)} FROM billing.batches {where} ORDER BY batch_id", params
    ).fetchall():
        header = dict(zip(HEADER_COLUMNS, row))
        ems[header["legal_entity"]].batches.append(header)


def compute_and_record(con: duckdb.DuckDBPyConnection, as_of: date, entities: list[str]) -> list[Emission]:
    """The emissions of legal entities ``entities`` on as-of date ``as_of``, in entity order: the stored lines of an
    entity recorded before (a replay), else newly computed, checked and recorded (ledger, lines, headers) in one
    transaction. An entity whose lines fail a check, or whose name could not be a batch id's, records nothing and
    carries its problems; the others are recorded all the same."""
    ems = {e: Emission(as_of, e, replay=False) for e in sorted(set(entities))}
    turns = {}
    for entity, em in ems.items():
        try:
            turns[entity] = entity_turn(entity)
        except BatchIntegrityError as exc:
            em.problems = [str(exc)]
    valid = {e: ems[e] for e in turns}
    if not valid:
        return list(ems.values())
    _ensure_tables(con, {"as_of": as_of, "legal_entities": sorted(valid)})
    recorded = _recorded(con, as_of, sorted(valid))  # a replay writes nothing, not even its turn
    for entity in recorded:
        valid[entity].replay = True
    pending = {e: t for e, t in turns.items() if e not in recorded}
    for turn in pending.values():
        ensure_turn(con, turn)
    if pending:
        _record(con, as_of, pending, ems)
    _read_back(con, as_of, {e: em for e, em in valid.items() if not em.problems})
    return list(ems.values())


def recorded_emissions(con: duckdb.DuckDBPyConnection, as_of: date, entities: list[str]) -> list[Emission]:
    """What ``entities`` recorded on ``as_of``, read only (an entity that recorded nothing has no batch)."""
    ems = {e: Emission(as_of, e, replay=True) for e in sorted(set(entities)) if BATCH_ENTITY.fullmatch(e or "")}
    if ems and table_exists(con, "billing.batches"):
        _read_back(con, as_of, ems)
    return list(ems.values())


def _plain(v):
    """Money as its exact decimal string, a date as ISO 8601."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    raise TypeError(f"{type(v).__name__} has no place in a batch file")


_HEADER = json.JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False, default=_plain)
# A line's keys one per line, six spaces in, as indent=2 puts them at that depth; without indent Python encodes in C
# (indent turns the C encoder off, and a batch of many lines then took seconds).
_LINE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",\n      ", ": "), default=_plain)


def _line_json(line: dict) -> str:
    flat = _LINE.encode({k: v for k, v in line.items() if k != "batch_id"})
    return "{\n      " + flat[1:-1] + "\n    }" if flat != "{}" else flat


def batch_document(header: dict, lines: list[dict]) -> bytes:
    """The batch file: header, lines and totals, money as exact decimal strings, keys sorted, indented by two: the
    bytes of ``json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False)`` plus a newline (a line's values are
    scalars; `tests/test_billing.py` holds the two equal)."""
    text = _HEADER.encode({**header, "lines": []})  # a string's own quotes are escaped: the key alone reads so
    if lines:
        body = ",\n    ".join(_line_json(line) for line in lines)
        text = text.replace('"lines": []', f'"lines": [\n    {body}\n  ]', 1)
    return (text + "\n").encode("utf-8")


def write_files(em: Emission, out: OutputFolder) -> list[str]:
    paths = []
    for header in em.batches:  # every id is checked before any file is written
        batch_path(out, header["batch_id"])
    for header in em.batches:
        path = batch_path(out, header["batch_id"])
        write_atomically(path, batch_document(header, em.lines[header["batch_id"]]))
        paths.append(str(path))
    return paths
