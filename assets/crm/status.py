"""What finance knows of each CRM Account and root Contract, written for the account teams as Salesforce Bulk API 2.0
upsert CSV files keyed by ``Id``, with only the rows that changed.

Each as-of date's rows (``sql/crm/<object>_status.sql``) are compared with the rows in force before that date
(``crm.<object>_status`` keeps a row only when its values changed, with the date from which they hold); the changed
rows are stored and written to ``<output>/crm/<Object>-<YYYYMMDD>.csv``. The same input gives the same file, byte for
byte, whenever the date is run again; a file with only the header means nothing changed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from assets.common import rollback
from resources.outputs import OutputFolder, write_atomically
from resources.warehouse import bound_params, sql_text, table_exists

NULL = "#N/A"  # Bulk API 2.0: the value that clears a field (an empty value leaves it unchanged)


@dataclass(frozen=True)
class CrmObject:
    name: str  # the Salesforce object
    query: str  # sql/<query>.sql
    fields: dict[str, str]  # column of the query -> Salesforce field API name (the custom fields to create)

    @property
    def table(self) -> str:
        return f"crm.{self.name.lower()}_status"


ACCOUNT = CrmObject(
    "Account",
    "crm/account_status",
    {
        "id": "Id",
        "billed_to_date": "Pssync_Billed_To_Date__c",
        "open_receivables": "Pssync_Open_Receivables__c",
        "overdue_receivables": "Pssync_Overdue_Receivables__c",
        "unbilled_wip": "Pssync_Unbilled_WIP__c",
        "open_exceptions": "Pssync_Open_Exceptions__c",
        "currency": "Pssync_Currency__c",
    },
)
CONTRACT = CrmObject(
    "Contract",
    "crm/contract_status",
    {
        "id": "Id",
        "billed_to_date": "Pssync_Billed_To_Date__c",
        "billed_hours": "Pssync_Billed_Hours__c",
        "unbilled_wip": "Pssync_Unbilled_WIP__c",
        "remaining_nte_hours": "Pssync_Remaining_NTE_Hours__c",
        "open_exceptions": "Pssync_Open_Exceptions__c",
        "currency": "Pssync_Currency__c",
    },
)
OBJECTS = (ACCOUNT, CONTRACT)


def changed_rows(con: duckdb.DuckDBPyConnection, obj: CrmObject, as_of: date, params: dict) -> list[tuple]:
    """Store and return the rows of ``as_of`` whose values differ from those in force before it, sorted by Id."""
    query = sql_text(obj.query)
    con.execute("CREATE SCHEMA IF NOT EXISTS crm")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _crm_now AS {query}", bound_params(query, params))
    if not table_exists(con, obj.table):
        con.execute(f"CREATE TABLE {obj.table} AS SELECT *, CAST(NULL AS DATE) AS as_of_date FROM _crm_now WHERE FALSE")
    cols = ", ".join(obj.fields)
    con.begin()
    try:
        con.execute(f"DELETE FROM {obj.table} WHERE as_of_date = ?", [as_of])
        # EXCEPT compares whole rows, NULLs equal: exactly the rows whose values are new
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _crm_changed AS
                SELECT {cols} FROM _crm_now
                EXCEPT
                SELECT {cols} FROM {obj.table} WHERE as_of_date < $d
                QUALIFY row_number() OVER (PARTITION BY id ORDER BY as_of_date DESC) = 1""",
            {"d": as_of},
        )
        con.execute(f"INSERT INTO {obj.table} SELECT {cols}, $d FROM _crm_changed", {"d": as_of})
        con.commit()
    except BaseException:
        rollback(con)
        raise
    return con.execute(f"SELECT {cols} FROM _crm_changed ORDER BY id").fetchall()


def _cell(v) -> str:
    if v is None:
        return NULL
    if isinstance(v, Decimal):
        return f"{v:f}"
    return str(v)


def upsert_csv(obj: CrmObject, rows: list[tuple]) -> bytes:
    """A Bulk API 2.0 upsert file: UTF-8, comma, LF line ends, RFC 4180 quoting, a header of field API names."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(obj.fields.values())
    w.writerows([[_cell(v) for v in r] for r in rows])
    return buf.getvalue().encode("utf-8")


def write_status_files(con: duckdb.DuckDBPyConnection, as_of: date, params: dict, out: OutputFolder) -> dict:
    """The changed rows of every object for ``as_of``, stored and written; returns {object: (path, rows)}."""
    written = {}
    for obj in OBJECTS:
        rows = changed_rows(con, obj, as_of, params)
        path = Path(out.file("crm")) / f"{obj.name}-{as_of:%Y%m%d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, upsert_csv(obj, rows))
        written[obj.name] = (str(path), len(rows))
    return written
