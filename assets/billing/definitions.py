"""Dagster definitions of the billing domain."""

import dagster as dg

from assets.billing.assets import billing_assets

defs = dg.Definitions(assets=billing_assets)
