"""Synthetic services-firm estate: every source format of the spec, with known answers.

``generate_estate(EstateConfig(...))`` writes CRM pages, the PSA database, HR drops,
ERP exports and payroll files under one landing directory, plus a ground-truth
manifest in ``_truth/`` that lists every injected anomaly and its expected outcome.
"""

from estate.config import EstateConfig
from estate.generate import generate_estate

__all__ = ["EstateConfig", "generate_estate"]
