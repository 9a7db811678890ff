"""Dagster definitions of the marts domain."""

import dagster as dg

from assets.marts.assets import marts_assets

defs = dg.Definitions(assets=marts_assets)
