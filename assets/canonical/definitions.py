"""Dagster definitions of the canonical domain."""

import dagster as dg

from assets.canonical.assets import canonical_assets

defs = dg.Definitions(assets=canonical_assets)
