"""Partitions: the as-of business date of recon and billing runs."""

import os

import dagster as dg

PARTITION_START = os.environ.get("PSSYNC_PARTITION_START", "2025-10-01")

as_of_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1)
"""One partition per as-of date D: the run sees every source record as it stood at the end of D (UTC).
The nightly sync settles yesterday; today's partition exists for the hourly intraday reconciliation."""
