"""Reference data of the firm: legal entities, roles, practices, calendars, rate levels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Entity:
    code: str
    subsidiary_id: int
    name: str
    country: str
    currency: str
    region: str
    weight: float
    tax_code: str


ENTITIES: tuple[Entity, ...] = (
    Entity("US01", 1, "Northwind Consulting Inc.", "US", "USD", "NA", 0.45, "US-EXEMPT"),
    Entity("UK01", 2, "Northwind Consulting Ltd", "GB", "GBP", "UK", 0.20, "UK-VAT20"),
    Entity("DE01", 3, "Northwind Beratung GmbH", "DE", "EUR", "EU", 0.20, "DE-VAT19"),
    Entity("SG01", 4, "Northwind Consulting Pte. Ltd.", "SG", "SGD", "APAC", 0.15, "SG-GST"),
)
REGIONS = ("NA", "UK", "EU", "APAC")
REGION_FACTOR = {"NA": 1.0, "UK": 0.95, "EU": 0.95, "APAC": 0.8}

# role -> (standard hourly rate in USD, hourly cost in USD)
ROLES: dict[str, tuple[int, int]] = {
    "Analyst": (120, 45),
    "Consultant": (160, 60),
    "Senior Consultant": (200, 75),
    "Manager": (250, 95),
    "Director": (320, 130),
}
ROLE_NAMES = tuple(ROLES)
ROLE_WEIGHTS = (0.20, 0.30, 0.25, 0.17, 0.08)
PRACTICES = ("Strategy", "Technology", "Data", "Operations")
SKILLS = (
    "Python",
    "SQL",
    "Finance",
    "Change Management",
    "SAP",
    "Salesforce",
    "Cloud",
    "Analytics",
    "Project Management",
    "Supply Chain",
)
INDUSTRIES = ("Banking", "Insurance", "Retail", "Manufacturing", "Healthcare", "Energy", "Public Sector")
TASK_CODES = ("DISCOVERY", "DESIGN", "BUILD", "TEST", "PMO", "WORKSHOP", "REPORTING")
EXPENSE_CATEGORIES = ("Travel", "Lodging", "Meals", "Mileage")

# Currency -> units of USD for one unit, at the start of the horizon.
FX_START = {"USD": 1.0, "GBP": 1.27, "EUR": 1.08, "SGD": 0.74}
CURRENCIES = tuple(FX_START)

# Rate cards: per entity a standard and a premium card, and a "limited" card that lacks
# junior roles (used by the MISSING_RATE anomaly).
CARD_FACTORS = {"STD": 1.0, "PREM": 1.15, "LTD": 1.0}
LIMITED_CARD_ROLES = ("Senior Consultant", "Manager", "Director")
RATE_RAISE = 1.04  # rate cards rise 4% on the change date


def card_id(entity: Entity, kind: str) -> str:
    return f"RC-{entity.code}-{kind}"


def public_holidays(country: str, year: int) -> list[tuple[date, str]]:
    """Public holidays of a country in a year, observed days included, from the ``holidays`` package (pinned in
    pyproject.toml, so that an estate's ground truth does not move with a new release)."""
    import holidays

    return sorted(holidays.country_holidays(country, years=year, language="en_US").items())
