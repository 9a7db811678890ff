"""Every asset depends on every table its SQL reads (sqlglot reads the SQL), so run order never rests on luck."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from assets.canonical.entities import ENTITIES
from assets.dependencies import asset_key_of, tables_of
from dagster_project.definitions import build_definitions
from resources.sql_reads import parameters, tables_read
from resources.warehouse import SQL_DIR, bound_params, sql_text


def _sql_of_assets() -> dict[dg.AssetKey, set[str]]:
    """Each asset and the SQL files it runs: those its description names, and the canonical views it creates."""
    graph = build_definitions().resolve_asset_graph()
    found: dict[dg.AssetKey, set[str]] = {}
    for key in graph.get_all_asset_keys():
        text = graph.get(key).description or ""
        names = set(re.findall(r"`sql/([\w/]+)\.sql`", text))
        if names:
            found[key] = names
    for e in ENTITIES:
        found[dg.AssetKey(["canonical", e.name])] = {f"canonical/{e.name}_history"} | {
            f"canonical/{v}_asof" for v in (e.view_name, *e.derived)
        }
    found[dg.AssetKey(["canonical", "crosswalks"])] = {
        f"canonical/{p.stem}" for p in SQL_DIR.glob("canonical/xwalk_*_asof.sql")
    }
    return found


ASSETS = _sql_of_assets()


@pytest.mark.parametrize("key", sorted(ASSETS, key=lambda k: k.to_user_string()), ids=lambda k: k.to_user_string())
def test_an_asset_depends_on_every_table_its_sql_reads(key):
    graph = build_definitions().resolve_asset_graph()
    parents = set(graph.get(key).parent_keys)
    for name in ASSETS[key]:
        needed = {asset_key_of(t) for t in tables_of(sql_text(name))} - {None, key}
        missing = needed - parents
        assert not missing, (
            f"{key.to_user_string()} runs sql/{name}.sql, which reads "
            f"{sorted(m.to_user_string() for m in missing)} it does not depend on"
        )


def test_the_sql_of_the_published_tables_is_found():
    names = {n for v in ASSETS.values() for n in v}
    assert {
        "recon/time_to_bill",
        "recon/billing_holds",
        "billing/batch_lines",
        "billing/batches",
        "marts/realization_monthly",
        "marts/project_margin",
        "canonical/xwalk_client_customer_asof",
    } <= names


def test_reads_and_parameters_come_from_the_sql_not_its_comments():
    text = (
        "-- uses $as_of and canonical.nothing\n"
        "SELECT * FROM canonical.time_entry_asof($day) t JOIN marts.backlog b ON TRUE"
    )
    assert tables_read(text) == {"canonical.time_entry_asof", "marts.backlog"}
    assert parameters(text) == {"day"}
    assert bound_params(text, {"as_of": 1, "day": 2}) == {"day": 2}
    assert asset_key_of("canonical.employee_spans_asof") == dg.AssetKey(["canonical", "employee"])
    assert asset_key_of("recon.billing_holds") == dg.AssetKey(["recon", "billing_holds"])
    assert asset_key_of("recon.cap_usage") == dg.AssetKey(["recon", "time_to_bill"])
    assert asset_key_of("billing.ledger") is None
