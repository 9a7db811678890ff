"""Deterministic JSON and CSV text for the source drops."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from resources.outputs import write_atomically


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=None, separators=(", ", ": "))


def write_text(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8"), durable=False)


def report_json(df: pl.DataFrame) -> str:
    """A Workday report-as-a-service document: every value a string, "" for null."""
    if df.height == 0:
        return '{"Report_Entry": []}\n'
    enc = df.select(
        pl.struct([pl.col(c).cast(pl.Utf8).fill_null("") for c in df.columns]).struct.json_encode().alias("j")
    )
    return '{"Report_Entry": [\n' + ",\n".join(enc["j"].to_list()) + "\n]}\n"


def write_csv(path: Path, df: pl.DataFrame) -> None:
    """UTF-8, comma-separated, RFC 4180 quoting, labelled headers as given."""
    data = df.write_csv(quote_style="necessary", line_terminator="\r\n", null_value="").encode("utf-8")
    write_atomically(path, data, durable=False)
