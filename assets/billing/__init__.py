"""Billing: batches emitted exactly once, replayable, published to files and the ERP staging table."""
