"""Dagster definitions of the extract domain."""

import dagster as dg

from assets.extract.assets import extract_assets

defs = dg.Definitions(assets=extract_assets)
