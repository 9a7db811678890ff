"""The SQL over a raw table that the source formats dictate: the first format rule a row breaks, a record's key,
its content hash and the timestamp that dates its version."""

from __future__ import annotations

from assets.extract.fields import BOOL, DATE, INT, JSON, NUM, PERCENT, TEXT, TS, YESNO, SourceObject
from assets.extract.parse import NOT_AN_OBJECT

# format rules by field type: (SQL that is true for a bad value of column {c}, rule, what a good value is)
FORMAT_RULES = {
    BOOL: ("TRY_CAST({c} AS BOOLEAN) IS NULL", "invalid_boolean", "true/false"),
    YESNO: ("{c} NOT IN ('Yes', 'No')", "invalid_yes_no", "Yes/No"),
    PERCENT: ("NOT regexp_full_match({c}, '-?[0-9]+(\\.[0-9]+)?%')", "invalid_percent", "percentage such as 20%"),
    JSON: ("NOT json_valid({c})", "invalid_json", "JSON document"),
    DATE: (
        "TRY_CAST({c} AS DATE) IS NULL OR NOT regexp_full_match({c}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')",
        "invalid_date",
        "YYYY-MM-DD date",
    ),
    TS: ("TRY_CAST({c} AS TIMESTAMP) IS NULL", "invalid_timestamp", "ISO 8601 timestamp"),
    INT: ("TRY_CAST({c} AS BIGINT) IS NULL", "wrong_type", "whole number"),
    NUM: ("TRY_CAST({c} AS DOUBLE) IS NULL", "wrong_type", "number"),
}


def violation_sql(spec: SourceObject) -> str:
    """The first format rule a row breaks, as 'rule|message', or NULL."""
    cases = [
        f"WHEN _extra LIKE '{{\"{NOT_AN_OBJECT}\"%' THEN 'not_an_object|record is not a JSON object but ' "
        f"|| coalesce(json_extract_string(_extra, '$.{NOT_AN_OBJECT}'), 'null')"
    ]
    for f in spec.fields:
        c = f'"{f.column}"'
        if f.required:
            cases.append(f"WHEN {c} IS NULL THEN 'missing_value|{f.label} is required but empty'")
        if f.type == TEXT:
            continue
        # decimals (money, rates, hours) are numbers that must cast to their own precision
        template, rule, what = FORMAT_RULES.get(
            f.type, (f"TRY_CAST({{c}} AS {f.type}) IS NULL", "wrong_type", "number")
        )
        shown = f"'{f.label} ''' || {c} || ''''"
        cases.append(
            f"WHEN {c} IS NOT NULL AND ({template.format(c=c)}) THEN '{rule}|' || {shown} || ' is not a valid {what}'"
        )
    return "CASE " + " ".join(cases) + " END" if cases else "NULL"


def key_sql(spec: SourceObject, alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    return " || '|' || ".join(f"coalesce(CAST({p}\"{spec.field(k).column}\" AS VARCHAR), '')" for k in spec.key)


def hash_sql(spec: SourceObject) -> str:
    parts = ", ".join(f"coalesce(CAST(\"{f.column}\" AS VARCHAR), '\u2400')" for f in spec.fields)
    return f"md5(concat_ws('\u241f', {parts}, coalesce(_extra, '')))"


def source_ts_sql(spec: SourceObject) -> str:
    if spec.source_ts:
        return f'TRY_CAST("{spec.field(spec.source_ts).column}" AS TIMESTAMP)'
    return "CAST(_file_date AS TIMESTAMP)"
