"""Materializing real assets with real resources, as the tests do."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from assets.canonical.assets import canonical_assets
from assets.extract.assets import extract_assets
from resources import LandingFolder, PsaDatabase, Warehouse

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def query(warehouse, sql: str, params=None) -> list[tuple]:
    """Rows of a query on a warehouse file, through a read-only session."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def isolate_settings(monkeypatch) -> None:
    """No PSSYNC_* setting (nor DAGSTER_HOME) from the environment the tests were started in."""
    from resources.settings import PREFIX, PssyncSettings

    for name in [*(PREFIX + f.upper() for f in PssyncSettings.model_fields), "DAGSTER_HOME"]:
        monkeypatch.delenv(name, raising=False)


def resources_for(
    landing: Path, warehouse: Path, psa_url: str | None = None, outputs: Path | None = None, staging_url: str = ""
) -> dict:
    from resources.erp_staging import ErpStaging
    from resources.outputs import OutputFolder
    from resources.quality import DataQuality
    from resources.settings import PssyncSettings

    # the thresholds from the environment as a deployment sets them (a test may set PSSYNC_QUARANTINE_MAX_SHARE)
    settings = PssyncSettings.from_env({"landing_dir": str(landing), "warehouse": str(warehouse)})
    return {
        "settings": settings,
        "outputs": OutputFolder(path=str(outputs or warehouse.parent / "output")),
        "quality": DataQuality(output_dir=str(outputs or warehouse.parent / "output")),
        "erp_staging": ErpStaging(url=staging_url),
        "warehouse": Warehouse(path=str(warehouse)),
        "landing": LandingFolder(path=str(landing)),
        "psa": PsaDatabase(
            url=psa_url or f"sqlite:///{landing / 'psa' / 'psa.db'}",
            retries=2,
            backoff_seconds=0.01,
            timeout_seconds=settings.psa_timeout,
        ),
    }


def materialize_extract(
    landing: Path, warehouse: Path, psa_url: str | None = None, selection=None, raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        extract_assets,
        resources=resources_for(landing, warehouse, psa_url),
        selection=selection,
        raise_on_error=raise_on_error,
        run_config=QUIET,
    )


def materialize_canonical(landing: Path, warehouse: Path, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """Extract then canonical, in process, on real files and a real DuckDB warehouse."""
    return dg.materialize(
        [*extract_assets, *canonical_assets],
        resources=resources_for(landing, warehouse),
        raise_on_error=raise_on_error,
        run_config=QUIET,
    )


def all_assets(marts: bool = False):
    """Every asset up to billing; with ``marts``, the marts and their quality suites too."""
    from assets.billing.assets import billing_assets
    from assets.marts.assets import marts_assets
    from assets.recon.definitions import recon_assets

    return [*extract_assets, *canonical_assets, *recon_assets, *billing_assets, *(marts_assets if marts else [])]


def materialize_as_of(
    landing: Path,
    warehouse: Path,
    as_of: str,
    assets=None,
    raise_on_error: bool = True,
    psa_url: str | None = None,
    outputs: Path | None = None,
    staging_url: str = "",
    selection=None,
):
    """The pipeline for one as-of date (a partition key), in process, with real resources, in the runs `pssync run`
    starts (dagster_project/runner.py): the assets of the date; then, when billing assets are among them and the
    date succeeded, the billing over every legal entity of the date (a partition range); then what reads the
    batches (the firm-wide view)."""
    from assets.partitions import entity_partitions, every_entity_of_date, legal_entities
    from dagster_project.entities import register_entities
    from dagster_project.runner import DateRuns

    chosen = assets or all_assets()
    billing = {k for a in chosen if a.partitions_def == entity_partitions for k in a.keys}
    firm = set(dg.AssetSelection.assets(*billing).downstream(include_self=False).resolve(chosen)) if billing else set()
    stages = [
        [a for a in chosen if not set(a.keys) & (billing | firm)],
        [a for a in chosen if set(a.keys) & billing],
        [a for a in chosen if set(a.keys) & firm],
    ]
    resources = resources_for(landing, warehouse, psa_url, outputs, staging_url)
    instance = dg.DagsterInstance.ephemeral()
    if selection is not None and not isinstance(selection, dg.AssetSelection):
        selection = dg.AssetSelection.from_coercible(selection)
    keys = set(selection.resolve(chosen)) if selection is not None else None
    results = []
    for n, stage in enumerate(stages):
        stage_keys = {k for a in stage for k in a.keys}
        if not stage or (keys is not None and not keys & stage_keys):
            continue
        if results and not results[-1].success:
            break
        partition, tags = as_of, None
        if n == 1:
            if not register_entities(instance, date.fromisoformat(as_of), str(warehouse)):
                continue
            partition, tags = None, every_entity_of_date(as_of, instance.get_dynamic_partitions(legal_entities.name))
        results.append(
            dg.materialize(
                stage,
                resources=resources,
                partition_key=partition,
                raise_on_error=raise_on_error,
                run_config=QUIET,
                selection=None if keys is None else sorted(keys & stage_keys),
                instance=instance,
                tags=tags,
            )
        )
    return DateRuns(results, instance)


def emit_every_entity(con, as_of: date):
    """`compute_and_record` for every legal entity that bills on ``as_of``, merged into one Emission: what the date
    emitted, as its entity_settle runs together do."""
    from assets.billing.emit import Emission, billable_entities, compute_and_record

    merged = Emission(as_of, "*", replay=True)
    for em in compute_and_record(con, as_of, billable_entities(con, as_of)):
        merged.replay = merged.replay and em.replay
        merged.batches += em.batches
        merged.lines.update(em.lines)
        merged.problems += em.problems
    return merged
