"""How a source object is declared: its fields and their types, its key, how its versions are dated."""

from __future__ import annotations

import re
from dataclasses import dataclass

TEXT, INT, DATE, TS, NUM = "VARCHAR", "BIGINT", "DATE", "TIMESTAMP", "DOUBLE"
MONEY, RATE, FX, HOURS = "DECIMAL(18,2)", "DECIMAL(18,4)", "DECIMAL(18,6)", "DECIMAL(10,2)"
BOOL, YESNO, PERCENT, JSON = "BOOLEAN", "YESNO", "PERCENT", "JSON"


@dataclass(frozen=True)
class Field:
    label: str  # as the source names it
    type: str = TEXT
    required: bool = False

    @property
    def column(self) -> str:
        """Column name in the warehouse: the label itself when it is an identifier, else snake_case."""
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.label):
            return self.label.lower()
        return re.sub(r"[^a-z0-9]+", "_", self.label.lower()).strip("_")


@dataclass(frozen=True)
class SourceObject:
    """One extractable object of a source system."""

    source: str  # crm | psa | hr | erp | payroll
    object: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # labels forming the record key
    kind: str  # crm_pages | workday | csv | psa_table
    pattern: str = ""  # glob below the landing folder (files) or table name (psa)
    dedupe: str = "file"  # file: by file content | record: by record key + content
    source_ts: str | None = None  # label of the field dating a version; None: the file's date
    owner: str = "integration"
    description: str = ""
    # a full snapshot: every file states the whole object as of its date (master data, HR reports)
    snapshot: bool = False

    @property
    def name(self) -> str:
        return f"{self.source}_{self.object}"

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    def field(self, label: str) -> Field:
        return next(f for f in self.fields if f.label == label)


def F(label: str, type_: str = TEXT, required: bool = False) -> Field:
    """A field, as the declarations write it: label, type, whether every record must give it."""
    return Field(label, type_, required)
