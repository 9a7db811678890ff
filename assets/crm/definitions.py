"""Dagster definitions of the CRM status domain."""

import dagster as dg

from assets.crm.assets import crm_assets

defs = dg.Definitions(assets=crm_assets)
