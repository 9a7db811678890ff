"""The writer pools of the production instance: one step per table written at a time (docs/deployment.md)."""

from __future__ import annotations

import dagster as dg


def create_pools(where: dg.DagsterInstance, *job_defs) -> list[str]:
    """Create, before the run starts, the pools its steps will claim (one per table written, assets/common.py).
    Dagster creates a pool when a step first claims it, and two runs doing that at once on PostgreSQL fail one of
    them ("duplicate key value violates unique constraint concurrency_limits_concurrency_key_key": its insert's
    error aborts the transaction it then updates in); seen with a backfill and an hourly run on a new instance.
    Returns the pools this call created."""
    storage = where.event_log_storage
    if not limits_pools(where):
        return []
    wanted = {
        node.definition.pool
        for job_def in job_defs
        for node in job_def.graph.nodes
        if getattr(node.definition, "pool", None)
    }
    created = []
    for pool in sorted(wanted - {p.name for p in storage.get_pool_limits()}):
        try:
            storage.initialize_concurrency_limit_to_default(pool)
            created.append(pool)
        except Exception:
            if pool not in {p.name for p in storage.get_pool_limits()}:
                raise
    return created


def limits_pools(where: dg.DagsterInstance) -> bool:
    """Whether the instance gives pools a limit (the production one: one step per pool); the embedded one gives
    none, and runs one run at a time instead."""
    return where.event_log_storage.supports_global_concurrency_limits and (
        where.global_op_concurrency_default_limit is not None
    )


def pools_message(created: list[str]) -> str:
    """What creating the pools did, in one line (the pools sensor's tick, `pssync pools`)."""
    return f"created {len(created)} pool(s): {', '.join(created)}" if created else "every pool exists"


def instance_of(context) -> dg.DagsterInstance | None:
    """The instance of a schedule's or sensor's evaluation; None for a context built without one (a test's)."""
    try:
        return context.instance
    except dg.DagsterInvariantViolationError:
        return None
