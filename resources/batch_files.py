"""The billing batch files: their columns, their ids and where each goes. The billing assets write them
(assets/billing/emit.py); the workbench shows them and tells of them. Both import this, so it lives below both."""

from __future__ import annotations

import re
from pathlib import Path

from resources.outputs import OutputFolder
from resources.warehouse import LEGAL_ENTITY

LINE_COLUMNS = [
    "batch_id",
    "line_no",
    "idempotency_key",
    "item",
    "source_id",
    "source_revision",
    "project_code",
    "customer_id",
    "legal_entity",
    "currency",
    "service_date",
    "quantity",
    "rate",
    "amount",
    "tax_code",
    "tax_rate",
    "tax_amount",
]
HEADER_COLUMNS = [
    "batch_id",
    "as_of_date",
    "legal_entity",
    "customer_id",
    "currency",
    "line_count",
    "net_amount",
    "tax_amount",
    "gross_amount",
]


BATCH_ENTITY = LEGAL_ENTITY  # a legal entity as a batch id, a turn and a table's part may carry it


class BatchIntegrityError(RuntimeError):
    """The computed batch lines break a rule that must hold before anything is emitted."""


BATCH_ID = re.compile(rf"BB-{BATCH_ENTITY.pattern}-[0-9]{{1,18}}-[A-Z]{{3}}-[0-9]{{8}}")


def batch_path(out: OutputFolder, batch_id: str) -> Path:
    """Where a batch's file goes; an id that is not a well-formed batch id never becomes a path (the contracts
    quarantine such a legal entity or currency upstream: this is the last line)."""
    folder = out.file("billing_batches").resolve()
    path = (folder / f"{batch_id}.json").resolve()
    if not BATCH_ID.fullmatch(batch_id) or path.parent != folder:
        raise BatchIntegrityError(
            f"batch id {batch_id!r} is not BB-<entity>-<customer>-<currency>-<YYYYMMDD>: no file written"
        )
    return path
