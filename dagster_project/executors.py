"""Where a run's steps execute, chosen by ``PSSYNC_EXECUTOR``.

``in_process`` (the default, and the only choice on an embedded warehouse: a DuckDB file has one writing process)
runs every step in the run's own process. ``celery`` sends each step to Celery workers through the broker at
``PSSYNC_CELERY_BROKER`` (Redis or RabbitMQ); the workers, on this machine or others, open the shared warehouse
themselves (docs/deployment.md)."""

from __future__ import annotations

import warnings

import dagster as dg

from resources.settings import EXECUTORS  # noqa: F401 - the names, checked where the settings are


def executor_for(settings) -> dg.ExecutorDefinition:
    """The executor of every job, from the settings in force."""
    if settings.executor != "celery":
        return dg.in_process_executor
    from dagster_celery import celery_executor  # installed with pssync[shared] only (docs/deployment.md)

    # dagster_celery defines its one task again for every step it sends, and Celery warns each time that the name is
    # taken (the first definition, the same function, serves): dozens of lines after a run's verdict, none of use
    warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
    return celery_executor.configured(celery_config(settings), name="celery")


def celery_config(settings) -> dict:
    """The Celery executor's configuration; ``pssync worker`` starts workers with the same block."""
    return {"broker": settings.celery_broker, "backend": settings.celery_backend}
