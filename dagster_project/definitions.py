"""The pssync code location: every domain's definitions, merged, with shared resources."""

import dagster as dg

import assets.billing.definitions as billing
import assets.canonical.definitions as canonical
import assets.extract.definitions as extract
import assets.recon.definitions as recon
from dagster_project.resources import build_resources


full_pipeline = dg.define_asset_job(
    "full_pipeline", selection=dg.AssetSelection.all(),
    description="Every asset, in process: what `pssync run` and the demo materialize.")


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        extract.defs,
        canonical.defs,
        recon.defs,
        billing.defs,
        dg.Definitions(resources=build_resources(), jobs=[full_pipeline]),
    )


defs = build_definitions()
