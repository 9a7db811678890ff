"""Extract: every source object lands in the append-only raw layer."""
