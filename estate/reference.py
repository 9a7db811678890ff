"""Reference data of the firm: legal entities, roles, practices, calendars, rate levels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


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


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """n-th given weekday (0=Monday) of a month; n=-1 is the last one."""
    if n > 0:
        d = date(year, month, 1)
        d += timedelta(days=(weekday - d.weekday()) % 7)
        return d + timedelta(weeks=n - 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    d = nxt - timedelta(days=1)
    return d - timedelta(days=(d.weekday() - weekday) % 7)


def public_holidays(country: str, year: int) -> list[tuple[date, str]]:
    """Public holidays of a country in a year (a representative subset, fixed rules)."""
    fixed = {
        "US": [
            (1, 1, "New Year's Day"),
            (7, 4, "Independence Day"),
            (11, 11, "Veterans Day"),
            (12, 25, "Christmas Day"),
        ],
        "GB": [(1, 1, "New Year's Day"), (12, 25, "Christmas Day"), (12, 26, "Boxing Day")],
        "DE": [
            (1, 1, "Neujahr"),
            (5, 1, "Tag der Arbeit"),
            (10, 3, "Tag der Deutschen Einheit"),
            (12, 25, "Erster Weihnachtstag"),
            (12, 26, "Zweiter Weihnachtstag"),
        ],
        "SG": [(1, 1, "New Year's Day"), (5, 1, "Labour Day"), (8, 9, "National Day"), (12, 25, "Christmas Day")],
    }[country]
    days = [(date(year, m, d), name) for m, d, name in fixed]
    if country == "US":
        days += [
            (nth_weekday(year, 9, 0, 1), "Labor Day"),
            (nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
            (nth_weekday(year, 5, 0, -1), "Memorial Day"),
        ]
    if country == "GB":
        days += [
            (nth_weekday(year, 5, 0, 1), "Early May Bank Holiday"),
            (nth_weekday(year, 8, 0, -1), "Summer Bank Holiday"),
        ]
    return sorted(days)
