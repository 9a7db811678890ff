"""Reading landed files into frames of source text, one column per declared field."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import polars as pl

from assets.extract.fields import SourceObject


class FileRejected(Exception):
    """The whole file cannot be used (unparseable, or a required column missing)."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


def file_date(spec: SourceObject, rel: str) -> date | None:
    """The date a file's name carries: drop date, export date, holiday year, CRM extract time."""
    if spec.kind == "crm_pages":
        m = re.match(r"crm/(\d{8})T\d{6}Z/", rel)
        return datetime.strptime(m.group(1), "%Y%m%d").date() if m else None
    m = re.search(r"_(\d{4}-\d{2}-\d{2})\.(csv|json)$", rel)
    if m:
        return date.fromisoformat(m.group(1))
    m = re.search(r"_(\d{4})\.json$", rel)
    return date(int(m.group(1)), 1, 1) if m else None


def _text(v):
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, ensure_ascii=False)


NOT_AN_OBJECT = "__not_an_object__"


def _records_frame(spec: SourceObject, records: list) -> pl.DataFrame:
    """One row per record; an element that is not a JSON object (``null``, a string) becomes a row with no
    fields and an ``_extra`` marker, so validation rejects that row alone, naming file and position."""
    known = {f.label for f in spec.fields}
    objects = [r if isinstance(r, dict) else {} for r in records]
    cols = {f.column: [_text(r.get(f.label)) for r in objects] for f in spec.fields}
    extra = [
        {k: v for k, v in r.items() if k not in known and k != "attributes"}
        if isinstance(r, dict)
        else {NOT_AN_OBJECT: json.dumps(r)}
        for r in records
    ]
    cols["_extra"] = [json.dumps(e, ensure_ascii=False, sort_keys=True) if e else None for e in extra]
    cols["_row_number"] = list(range(1, len(records) + 1))
    schema = {f.column: pl.Utf8 for f in spec.fields} | {"_extra": pl.Utf8, "_row_number": pl.Int64}
    return pl.DataFrame(cols, schema=schema)


def read_file(spec: SourceObject, path: Path) -> pl.DataFrame:
    """Every record of a landed file as text columns (``""`` and null both become null), plus
    ``_extra`` (unknown fields as JSON) and ``_row_number`` (1-based, data rows only)."""
    if path.stat().st_size == 0:
        raise FileRejected("empty_file", "the file is empty (0 bytes): nothing in it can be trusted; re-deliver it")
    try:
        if spec.kind == "csv":
            frame = _read_csv(spec, path)
        else:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if spec.kind == "crm_pages":
                if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
                    raise FileRejected("unparseable_file", "not a REST query page: no 'records' list")
                records = doc["records"]
            else:
                if not isinstance(doc, dict) or not isinstance(doc.get("Report_Entry"), list):
                    raise FileRejected("unparseable_file", "not a Workday report: no 'Report_Entry' list")
                records = doc["Report_Entry"]
            if records:
                present = set().union(*(r.keys() for r in records if isinstance(r, dict)))
                missing = [f.label for f in spec.fields if f.required and f.label not in present]
                if missing:
                    raise FileRejected(
                        "missing_column", f"required field(s) {', '.join(missing)} absent from every record"
                    )
            frame = _records_frame(spec, records)
    except FileRejected:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise FileRejected("unparseable_file", f"cannot parse: {exc}") from exc
    # one expression over every text column: an expression per column cost about 1 ms a file, most of the
    # ERP's read time (its files are daily drops of a few dozen rows)
    return frame.with_columns(pl.when(pl.col(pl.Utf8) != "").then(pl.col(pl.Utf8)).name.keep())


def _read_csv(spec: SourceObject, path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8", quote_char='"')
    labels = [f.label for f in spec.fields]
    missing = [f.label for f in spec.fields if f.required and f.label not in raw.columns]
    if missing:
        raise FileRejected("missing_column", f"required column(s) {', '.join(repr(m) for m in missing)} missing")
    extra = [c for c in raw.columns if c not in labels]
    cols = [
        pl.col(f.label).alias(f.column) if f.label in raw.columns else pl.lit(None, pl.Utf8).alias(f.column)
        for f in spec.fields
    ]
    extra_col = (pl.struct(extra).struct.json_encode() if extra else pl.lit(None, pl.Utf8)).alias("_extra")
    return raw.select(*cols, extra_col, pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row_number"))
