"""Dagster definitions of the workbench domain."""

import dagster as dg

from assets.workbench.assets import workbench_assets

defs = dg.Definitions(assets=workbench_assets)
