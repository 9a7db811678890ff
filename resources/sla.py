"""When an exception is due: the terms the settings give (``PSSYNC_EXCEPTION_SLA_DAYS``,
``PSSYNC_EXCEPTION_SLA_URGENT``) and the rule that turns them into a due date. The workflow store's lifecycle applies
it (workbench/lifecycle.py); the settings build it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Sla:
    """When an exception is due: ``days`` per owner from (re)opening; at or above ``urgent_amount`` at risk (in the
    finding's currency), within ``urgent_days`` whatever the owner."""

    days: dict
    urgent_amount: Decimal | None = None
    urgent_days: int | None = None

    def due(self, now: datetime, owner: str | None, amount: Decimal | None) -> datetime | None:
        spans = [self.days[owner]] if owner in self.days else []
        if self.urgent_amount is not None and amount is not None and amount >= self.urgent_amount:
            spans.append(self.urgent_days)
        return now + timedelta(days=min(spans)) if spans else None
