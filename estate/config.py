"""Parameters of one synthetic estate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

DEFAULT_END_DATE = date(2026, 9, 30)


def month_start(d: date, add: int = 0) -> date:
    """First day of the month ``add`` months after the month of ``d``."""
    m = d.year * 12 + (d.month - 1) + add
    return date(m // 12, m % 12 + 1, 1)


@dataclass(frozen=True)
class EstateConfig:
    """What to generate: size, horizon, seed and the share of injected anomalies."""

    out: Path
    employees: int = 200
    months: int = 12
    seed: int = 42
    end_date: date | None = DEFAULT_END_DATE
    anomaly_rate: float = 0.01
    psa_url: str | None = None
    crm_page_size: int = 2000
    progress: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.end_date is None:
            object.__setattr__(self, "end_date", DEFAULT_END_DATE)

    @property
    def start_date(self) -> date:
        """First day of the horizon: the first of the month ``months - 1`` before the end month."""
        return month_start(self.end_date, -(self.months - 1))

    @property
    def end_ts(self) -> datetime:
        """The moment the estate is observed: the last second of the end date, UTC."""
        return datetime.combine(self.end_date, time(23, 59, 59), tzinfo=UTC)

    @property
    def landing(self) -> Path:
        return Path(self.out)

    @property
    def psa_db_url(self) -> str:
        return self.psa_url or f"sqlite:///{(Path(self.out) / 'psa' / 'psa.db').resolve()}"
