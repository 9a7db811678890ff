"""Dagster definitions of the recon domain."""

import dagster as dg

from assets.recon.assets import recon_assets

defs = dg.Definitions(assets=recon_assets)
