"""Column docs beside each table's SQL: every published table has one, it matches the table a run builds column by
column, and it reaches the Dagster column schema, the quality suites and the data dictionary."""

from __future__ import annotations

import dagster as dg
import duckdb

from checks.gx_suites import from_columns
from dagster_project.definitions import build_definitions
from resources.columns import data_dictionary, documented, table_doc
from resources.outputs import PUBLISHED
from resources.warehouse import SQL_DIR
from tests.conftest import manifest
from tests.helpers import all_assets, materialize_as_of


def test_every_published_table_is_documented_as_a_run_builds_it(estate_copy, tmp_path):
    wh = tmp_path / "wh.duckdb"
    run = materialize_as_of(estate_copy, wh, manifest(estate_copy)["as_of"], all_assets(marts=True), outputs=tmp_path)
    assert run.success
    con = duckdb.connect(str(wh), read_only=True)
    try:
        for schema, table in PUBLISHED:
            name = f"{schema}/{table}"
            assert name in documented(), f"sql/{name}.columns.yml is missing"
            built = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {schema}.{table}").fetchall()]
            said = [(c.name, c.type) for c in table_doc(name).columns]
            assert said == built, f"sql/{name}.columns.yml says {said}, the run builds {built}"
            assert all(c.description for c in table_doc(name).columns)
    finally:
        con.close()


def test_the_data_dictionary_is_the_columns_files():
    written = (SQL_DIR.parent / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert written == data_dictionary(), "docs/data-dictionary.md is stale: run `python -m resources.columns`"
    assert "| `leakage_total` | DECIMAL(18,2) |" in written


def test_the_dagster_ui_shows_each_columns_meaning_before_any_run():
    defs = build_definitions()
    key = dg.AssetKey(["marts", "unbilled_wip"])
    schema = defs.resolve_assets_def(key).metadata_by_key[key]["dagster/column_schema"]
    by_name = {c.name: c for c in schema.columns}
    assert "older than 30 days" in by_name["leakage_total"].description
    assert by_name["project_code"].constraints.unique and not by_name["project_code"].constraints.nullable


def test_a_key_column_is_checked_not_null_and_unique_by_the_quality_suite():
    checked = {(type(e).__name__, e.column) for e in from_columns("marts/unbilled_wip")}
    assert ("ExpectColumnValuesToNotBeNull", "project_code") in checked
    assert ("ExpectColumnValuesToBeUnique", "project_code") in checked
    assert from_columns("marts/no_such_table") == []
