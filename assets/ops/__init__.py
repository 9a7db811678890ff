"""Operational tables: exceptions, alerts."""
