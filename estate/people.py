"""Workers (HR) and their PSA resources, with effective-dated changes and time off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl

from estate.config import EstateConfig, month_start
from estate.reference import ENTITIES, FX_START, PRACTICES, REGION_FACTOR, ROLE_NAMES, ROLE_WEIGHTS, ROLES, SKILLS

NEVER = 10**6  # a day offset beyond any horizon


@dataclass
class People:
    """Per-worker arrays (index = worker number) and the HR snapshot calendar."""

    n: int
    entity: np.ndarray
    role0: np.ndarray
    practice0: np.ndarray
    contingent: np.ndarray
    hire: np.ndarray  # day offset (may be negative)
    term: np.ndarray  # day offset or NEVER
    weekly0: np.ndarray
    cost0_cents: np.ndarray
    manager: np.ndarray  # worker index or -1
    skills: list[str]
    # effective-dated changes (day offset of the HR snapshot that first shows them, or NEVER)
    raise_day: np.ndarray
    raise_pct: np.ndarray
    transfer_day: np.ndarray
    practice1: np.ndarray
    hours_day: np.ndarray
    weekly1: np.ndarray
    promo_day: np.ndarray
    snapshot_days: np.ndarray
    # set by anomaly injection: terminations recorded in HR while time keeps being logged
    hr_term: np.ndarray | None = None

    def employee_ids(self) -> np.ndarray:
        return np.array([f"E{i + 1:06d}" for i in range(self.n)])

    def weekly_on(self, day: np.ndarray, who: np.ndarray) -> np.ndarray:
        return np.where(day >= self.hours_day[who], self.weekly1[who], self.weekly0[who])

    def role_on(self, day: int) -> np.ndarray:
        promoted = np.minimum(self.role0 + 1, len(ROLE_NAMES) - 1)
        return np.where(day >= self.promo_day, promoted, self.role0)

    def cost_on(self, day: int) -> np.ndarray:
        raised = np.round(self.cost0_cents * (1 + self.raise_pct)).astype(np.int64)
        return np.where(day >= self.raise_day, raised, self.cost0_cents)

    def practice_on(self, day: int) -> np.ndarray:
        return np.where(day >= self.transfer_day, self.practice1, self.practice0)


def snapshot_days(cfg: EstateConfig) -> np.ndarray:
    """HR report drops: the first of every month of the horizon, and the end date."""
    days = [(month_start(cfg.start_date, k) - cfg.start_date).days for k in range(cfg.months)]
    days.append((cfg.end_date - cfg.start_date).days)
    return np.array(sorted(set(days)))


def make_people(cfg: EstateConfig, n_days: int) -> People:
    rng = np.random.default_rng([cfg.seed, 1])
    n = cfg.employees
    weights = np.array([e.weight for e in ENTITIES])
    entity = rng.choice(len(ENTITIES), size=n, p=weights / weights.sum())
    role0 = rng.choice(len(ROLE_NAMES), size=n, p=np.array(ROLE_WEIGHTS) / sum(ROLE_WEIGHTS))
    practice0 = rng.integers(0, len(PRACTICES), size=n)
    contingent = rng.random(n) < 0.10
    new_hire = rng.random(n) < 0.12
    hire = np.where(new_hire, rng.integers(0, max(n_days - 45, 1), size=n), -rng.integers(30, 3000, size=n))
    leaver = rng.random(n) < 0.07
    earliest = np.maximum(hire, 0) + 30
    term_raw = earliest + (rng.random(n) * np.maximum(n_days - 1 - earliest, 0)).astype(np.int64)
    term = np.where(leaver & (earliest < n_days - 1), term_raw, NEVER)
    weekly0 = np.where(contingent, 40, rng.choice([40, 32, 20], size=n, p=[0.92, 0.05, 0.03]))
    fx = np.array([FX_START[e.currency] for e in ENTITIES])[entity]
    region_f = np.array([REGION_FACTOR[e.region] for e in ENTITIES])[entity]
    base_cost = np.array([ROLES[r][1] for r in ROLE_NAMES])[role0]
    cost0 = np.round(base_cost * region_f / fx * rng.uniform(0.9, 1.1, size=n) * 100).astype(np.int64)
    seniors = np.flatnonzero(role0 >= 3)
    manager = seniors[rng.integers(0, len(seniors), size=n)] if len(seniors) else np.full(n, -1)
    manager = np.where(manager == np.arange(n), -1, manager)
    skill_idx = rng.integers(0, len(SKILLS), size=(n, 3))
    skills = [";".join(sorted({SKILLS[j] for j in row})) for row in skill_idx]

    snaps = snapshot_days(cfg)
    inner = snaps[1:-1] if len(snaps) > 2 else snaps[-1:]

    # a change is visible only to a worker already in an earlier snapshot
    first_seen = snaps[np.minimum(np.searchsorted(snaps, hire), len(snaps) - 1)]

    def change_days(share: float) -> np.ndarray:
        picked = rng.random(n) < share
        when = inner[rng.integers(0, len(inner), size=n)]
        return np.where(picked & (when > first_seen) & (when < term), when, NEVER)

    # pay rises land with the first January snapshot inside the horizon (else mid-horizon)
    januaries = [d for d in inner if _is_january(cfg, d)]
    raise_when = januaries[0] if januaries else inner[len(inner) // 2]
    raise_day = np.where((rng.random(n) < 0.4) & (raise_when > first_seen) & (raise_when < term), raise_when, NEVER)
    raise_pct = rng.choice([0.03, 0.04, 0.05, 0.06, 0.08], size=n)
    transfer_day = change_days(0.05)
    practice1 = (practice0 + rng.integers(1, len(PRACTICES), size=n)) % len(PRACTICES)
    hours_day = np.where(weekly0 == 40, change_days(0.03), NEVER)
    weekly1 = np.where(hours_day < NEVER, 32, weekly0)
    promo_day = np.where(role0 < len(ROLE_NAMES) - 1, change_days(0.05), NEVER)
    return People(
        n,
        entity,
        role0,
        practice0,
        contingent,
        hire,
        term,
        weekly0,
        cost0,
        manager,
        skills,
        raise_day,
        raise_pct,
        transfer_day,
        practice1,
        hours_day,
        weekly1,
        promo_day,
        snaps,
    )


def _is_january(cfg: EstateConfig, offset: int) -> bool:
    return (cfg.start_date + timedelta(days=int(offset))).month == 1


def cost_center(entity_i: np.ndarray, practice_i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([f"CC-{4100 + e * 100 + p * 10}" for e in range(len(ENTITIES)) for p in range(len(PRACTICES))])
    names = np.array(
        [f"{ENTITIES[e].code} {PRACTICES[p]}" for e in range(len(ENTITIES)) for p in range(len(PRACTICES))]
    )
    k = entity_i * len(PRACTICES) + practice_i
    return codes[k], names[k]


def time_off(cfg: EstateConfig, people: People, workable: np.ndarray) -> pl.DataFrame:
    """Approved time off: (worker, day, minutes, type). ``workable`` is the [worker, day] mask of
    scheduled working days within employment."""
    rng = np.random.default_rng([cfg.seed, 2])
    n, n_days = workable.shape
    k = int(n * n_days * 0.035)
    who = rng.integers(0, n, size=k)
    day = rng.integers(0, n_days, size=k)
    keep = workable[who, day]
    key = np.unique(who[keep].astype(np.int64) * n_days + day[keep])
    who, day = key // n_days, key % n_days
    kind = rng.choice(["Vacation", "Sick", "Other"], size=len(key), p=[0.75, 0.2, 0.05])
    daily_min = people.weekly_on(day, who) * 60 // 5
    half = rng.random(len(key)) < 0.1
    minutes = np.where(half, daily_min // 2, daily_min)
    return pl.DataFrame({"worker": who, "day": day, "minutes": minutes, "type": kind})
