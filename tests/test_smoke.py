"""Smoke test, run first by `make test`: every asset materializes on a tiny generated estate, every check passes."""

from __future__ import annotations

from estate import EstateConfig, generate_estate
from tests.helpers import all_assets, materialize_as_of, query


def test_every_asset_materializes_on_a_tiny_estate(tmp_path):
    landing = tmp_path / "landing"
    m = generate_estate(EstateConfig(out=landing, employees=5, months=2, seed=3, progress=False))
    wh = tmp_path / "wh.duckdb"
    everything = all_assets(marts=True)
    result = materialize_as_of(landing, wh, m["as_of"], assets=everything, outputs=tmp_path / "out")
    assert result.success
    done = {e.event_specific_data.materialization.asset_key for e in result.get_asset_materialization_events()}
    expected = {k for a in everything for k in a.keys}
    assert expected <= done, sorted(k.to_user_string() for k in expected - done)
    failed = [
        e.event_specific_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert failed == []
    assert query(wh, "SELECT count(*) FROM recon.time_to_bill")[0][0] > 0
