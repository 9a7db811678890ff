"""Partitions: the as-of business date of recon and billing runs."""

import dagster as dg

from resources.settings import current

PARTITION_START = current().partition_start  # PSSYNC_PARTITION_START, read when the code location loads

as_of_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1)
"""One partition per as-of date D: the run sees every source record as it stood at the end of D (UTC).
The nightly sync settles yesterday; today's partition exists for the hourly intraday reconciliation."""
