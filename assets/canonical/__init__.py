"""Canonical: firm-wide entities with one key each, under pandera contracts, readable as of any date."""
