"""Dagster definitions of the recon domain."""

import dagster as dg

from assets.recon.assets import time_to_bill, time_to_bill_exceptions
from assets.recon.tables import billing_holds, billing_line_exceptions, contractor_hours

recon_assets = [billing_holds, time_to_bill, time_to_bill_exceptions, billing_line_exceptions, contractor_hours]

defs = dg.Definitions(assets=recon_assets)
