"""The columns of each published table, with their business meaning, read from the file beside the table's SQL
(``sql/<layer>/<table>.columns.yml``). One description per column, used three ways: the Dagster column schema of
the asset (shown before anything is materialized), the great-expectations suites (``not_null`` and ``unique``
columns), and the data dictionary (docs/data-dictionary.md, written by ``python -m resources.columns``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache

import dagster as dg
import yaml

from resources.warehouse import SQL_DIR


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    not_null: bool = False  # never empty (checked by the table's quality suite)
    unique: bool = False  # no two rows of a date share it (checked by the table's quality suite)


@dataclass(frozen=True)
class TableDoc:
    table: str  # schema.name
    description: str
    columns: tuple[Column, ...]


def documented() -> list[str]:
    """The SQL names (``layer/table``) of every table with a columns file, sorted."""
    return sorted(
        p.relative_to(SQL_DIR).as_posix().removesuffix(".columns.yml") for p in SQL_DIR.rglob("*.columns.yml")
    )


@cache
def table_doc(sql_name: str) -> TableDoc:
    """The columns file of ``sql/<sql_name>.sql`` (``layer/table``)."""
    path = SQL_DIR / f"{sql_name}.columns.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    columns = tuple(Column(**c) for c in raw["columns"])
    return TableDoc(raw.get("table", sql_name.replace("/", ".")), raw["description"].strip(), columns)


def column_schema(sql_name: str) -> dg.TableSchema:
    """The Dagster column schema of the table built by ``sql/<sql_name>.sql``."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                c.type,
                description=c.description,
                constraints=dg.TableColumnConstraints(nullable=not c.not_null, unique=c.unique),
            )
            for c in table_doc(sql_name).columns
        ]
    )


def data_dictionary() -> str:
    """docs/data-dictionary.md: every documented table and its columns."""
    out = [
        "# Data dictionary",
        "",
        "Every published table and its columns, as their columns files beside the SQL say "
        "(`sql/<layer>/<table>.columns.yml`; written by `python -m resources.columns`, which a test keeps current). "
        "Money columns are DECIMAL, never floating point; `_reporting` columns are in the reporting currency. "
        "Not null and unique (per as-of date) are checked by the table's quality suite.",
    ]
    for name in documented():
        doc = table_doc(name)
        out += ["", f"## `{doc.table}`", "", doc.description, "", f"SQL: `sql/{name}.sql`", ""]
        out += ["| column | type | meaning | not null | unique |", "|---|---|---|---|---|"]
        for c in doc.columns:
            flags = ("yes" if c.not_null else "", "yes" if c.unique else "")
            out.append(f"| `{c.name}` | {c.type} | {c.description.replace('|', '/')} | {flags[0]} | {flags[1]} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    target = SQL_DIR.parent / "docs" / "data-dictionary.md"
    target.write_text(data_dictionary(), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
