"""The one clock of pssync: now, in UTC without a zone, as the warehouse and the workflow store keep times."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    """Now, in UTC without a zone, as the warehouse stores times."""
    return datetime.now(UTC).replace(tzinfo=None)
