"""Clients, projects, contracts (with amendments) and ERP master data (opportunities live in estate.crm)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from estate.config import EstateConfig, month_start
from estate.ids import sf_id
from estate.reference import (
    CARD_FACTORS,
    ENTITIES,
    FX_START,
    INDUSTRIES,
    LIMITED_CARD_ROLES,
    PRACTICES,
    RATE_RAISE,
    REGION_FACTOR,
    REGIONS,
    ROLE_NAMES,
    ROLES,
    card_id,
)

NAME_A = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Monarch",
    "Nakatomi",
    "Pied Piper",
    "Dunder",
    "Aperture",
    "Massive",
)
NAME_B = ("Holdings", "Industries", "Bank", "Group", "Retail", "Energy", "Health", "Logistics", "Insurance", "Labs")
PROJECT_KIND = {"tm": "Delivery", "fixed_fee": "Programme", "non_billable": "Pre-sales"}


@dataclass
class Commercial:
    accounts: pl.DataFrame
    projects: pl.DataFrame
    contracts: pl.DataFrame  # root contracts and amendments, one row per version
    rate_cards: pl.DataFrame
    tax_codes: pl.DataFrame
    fx: pl.DataFrame
    rate_change_date: date
    tax_change_date: date


def _half(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x) * 2) / 2


def make_rate_cards(cfg: EstateConfig) -> tuple[pl.DataFrame, date]:
    """Every card x role x region in the card's currency; all rates rise on one mid-horizon day."""
    change = month_start(cfg.start_date, cfg.months // 2) + timedelta(days=14)
    rows = []
    for ent in ENTITIES:
        for kind, factor in CARD_FACTORS.items():
            roles = LIMITED_CARD_ROLES if kind == "LTD" else ROLE_NAMES
            for role in roles:
                for region in REGIONS:
                    r1 = float(_half(ROLES[role][0] * REGION_FACTOR[region] * factor / FX_START[ent.currency]))
                    r2 = float(_half(r1 * RATE_RAISE))
                    rows.append(
                        (
                            card_id(ent, kind),
                            role,
                            region,
                            ent.currency,
                            round(r1 * 100),
                            cfg.start_date - timedelta(days=365),
                            change - timedelta(days=1),
                        )
                    )
                    rows.append((card_id(ent, kind), role, region, ent.currency, round(r2 * 100), change, None))
    df = pl.DataFrame(
        rows, schema=["card", "role", "region", "currency", "rate_cents", "eff_from", "eff_to"], orient="row"
    )
    return df, change


def make_tax_codes(cfg: EstateConfig) -> tuple[pl.DataFrame, date]:
    change = month_start(cfg.start_date, max(cfg.months // 3, 1))
    rows = [
        ("US-EXEMPT", "US", 0, date(2020, 1, 1)),
        ("UK-VAT20", "GB", 2000, date(2020, 1, 1)),
        ("DE-VAT19", "DE", 1900, date(2020, 1, 1)),
        ("SG-GST", "SG", 800, date(2023, 1, 1)),
        ("SG-GST", "SG", 900, change),
    ]
    return pl.DataFrame(rows, schema=["tax_code", "country", "rate_bp", "eff_from"], orient="row"), change


def make_fx(cfg: EstateConfig) -> pl.DataFrame:
    """Monthly ERP currency rates to USD, 6 decimals, as integer micro-units."""
    rng = np.random.default_rng([cfg.seed, 3])
    rows = []
    for cur, base in FX_START.items():
        level = base
        for k in range(-1, cfg.months + 1):
            eff = month_start(cfg.start_date, k)
            if cur != "USD":
                level *= 1 + rng.normal(0, 0.01)
            rows.append((cur, eff, round(level * 1_000_000) if cur != "USD" else 1_000_000))
    return pl.DataFrame(rows, schema=["currency", "eff_from", "rate_micro"], orient="row")


def make_commercial(cfg: EstateConfig, n_days: int) -> Commercial:
    rng = np.random.default_rng([cfg.seed, 4])
    n_acc = max(8, cfg.employees // 20)
    weights = np.array([e.weight for e in ENTITIES])
    acc_entity = rng.choice(len(ENTITIES), size=n_acc, p=weights / weights.sum())
    acc_entity[: len(ENTITIES)] = np.arange(len(ENTITIES))
    acc_names = [
        f"{NAME_A[i % len(NAME_A)]} {NAME_B[(i // len(NAME_A)) % len(NAME_B)]}"
        + (f" {i // (len(NAME_A) * len(NAME_B)) + 1}" if i >= len(NAME_A) * len(NAME_B) else "")
        for i in range(n_acc)
    ]
    accounts = pl.DataFrame(
        {
            "account": np.arange(n_acc),
            "Id": [sf_id("001", i + 1) for i in range(n_acc)],
            "Name": acc_names,
            "entity": acc_entity,
            "BillingCountry": [ENTITIES[e].country for e in acc_entity],
            "CurrencyIsoCode": [ENTITIES[e].currency for e in acc_entity],
            "Industry": [
                None if rng.random() < 0.1 else INDUSTRIES[rng.integers(len(INDUSTRIES))] for _ in range(n_acc)
            ],
            "customer_internal_id": 1000 + np.arange(n_acc),
            "tax_code": [ENTITIES[e].tax_code for e in acc_entity],
            "terms": rng.choice(["Net 30", "Net 45"], size=n_acc, p=[0.8, 0.2]),
            "erp_mapped": np.ones(n_acc, dtype=bool),
        }
    )

    n_proj = max(16, cfg.employees // 4)
    ptype = rng.choice(["tm", "fixed_fee", "non_billable"], size=n_proj, p=[0.7, 0.15, 0.15])
    ptype[: 2 * len(ENTITIES)] = "tm"
    ptype[2 * len(ENTITIES) : 2 * len(ENTITIES) + 2] = ["fixed_fee", "non_billable"]  # every kind exists
    p_account = rng.integers(0, n_acc, size=n_proj)
    p_account[: 2 * len(ENTITIES)] = np.tile(np.arange(len(ENTITIES)), 2)
    old = rng.random(n_proj) < 0.75
    old[: 2 * len(ENTITIES) + 2] = True
    p_start = np.where(
        old, -rng.integers(30, 400, size=n_proj), rng.integers(0, max(int(n_days * 0.6), 1), size=n_proj)
    )
    p_entity = acc_entity[p_account]
    practice = rng.integers(0, len(PRACTICES), size=n_proj)
    projects = pl.DataFrame(
        {
            "project_id": np.arange(1, n_proj + 1),
            "project_code": [f"P-{10000 + i + 1}" for i in range(n_proj)],
            "name": [
                f"{acc_names[a]} {PRACTICES[pr]} {PROJECT_KIND[t]}" for a, pr, t in zip(p_account, practice, ptype)
            ],
            "account": p_account,
            "crm_account_id": accounts["Id"].to_numpy()[p_account],
            "entity": p_entity,
            "legal_entity": [ENTITIES[e].code for e in p_entity],
            "billing_type": ptype,
            "status": "active",
            "start_day": p_start,
            "end_day": np.full(n_proj, None, dtype=object),
            "currency": [ENTITIES[e].currency for e in p_entity],
            "practice": [PRACTICES[pr] for pr in practice],
        }
    ).with_columns(pl.col("end_day").cast(pl.Int64))

    # root contracts for billable projects, amendments for some T&M ones
    billable = projects.filter(pl.col("billing_type") != "non_billable")
    nb = billable.height
    card_kind = rng.choice(["STD", "PREM"], size=nb, p=[0.75, 0.25])
    discount_x10 = rng.choice([0, 0, 0, 50, 75, 100, 125], size=nb)
    has_cap = rng.random(nb) < 0.3
    roots = billable.select(
        "project_id",
        "account",
        "entity",
        "billing_type",
        "currency",
        "legal_entity",
        "start_day",
    ).with_columns(
        contract=pl.int_range(0, nb),
        Id=pl.Series([sf_id("800", i + 1) for i in range(nb)]),
        ContractNumber=pl.Series([f"{i + 1:08d}" for i in range(nb)]),
        Status=pl.lit("Activated"),
        end_day=pl.max_horizontal(pl.col("start_day") + 3 * 365, pl.lit(n_days + 180)),
        card=pl.Series([card_id(ENTITIES[e], k) for e, k in zip(billable["entity"], card_kind)]),
        discount_x10=pl.Series(discount_x10),
        nte_kind=pl.Series(np.where(has_cap, "large", "none")),
        amends=pl.lit(None, dtype=pl.Utf8),
        modstamp_day=pl.col("start_day") - 10,
    )
    tm_roots = roots.filter(pl.col("billing_type") == "tm")
    amend_pick = rng.random(tm_roots.height) < 0.15
    draft_pick = (rng.random(tm_roots.height) < 0.05) & ~amend_pick
    am = tm_roots.filter(pl.Series(amend_pick | draft_pick))
    k = am.height
    am_start = rng.integers(int(n_days * 0.2), max(int(n_days * 0.8), int(n_days * 0.2) + 1), size=k)
    switch = rng.random(k) < 0.5
    new_card = [
        c.replace("-STD", "-PREM") if s and c.endswith("STD") else (c.replace("-PREM", "-STD") if s else c)
        for c, s in zip(am["card"], switch)
    ]
    amendments = am.with_columns(
        contract=pl.int_range(nb, nb + k),
        amends=pl.col("Id"),
        Id=pl.Series([sf_id("800", nb + i + 1) for i in range(k)], dtype=pl.Utf8),
        ContractNumber=pl.Series([f"{nb + i + 1:08d}" for i in range(k)], dtype=pl.Utf8),
        Status=pl.Series(np.where(amend_pick[amend_pick | draft_pick], "Activated", "Draft")),
        start_day=pl.Series(am_start),
        card=pl.Series(new_card, dtype=pl.Utf8),
        discount_x10=pl.Series(rng.choice([0, 50, 100, 150], size=k)),
        modstamp_day=pl.Series(am_start - 7),
    ).with_columns(
        discount_x10=pl.when(pl.col("Status") == "Draft").then(500).otherwise(pl.col("discount_x10")),
    )
    contracts = pl.concat([roots, amendments], how="vertical_relaxed")
    projects = projects.join(roots.select("project_id", crm_contract_id=pl.col("Id")), on="project_id", how="left")

    rate_cards, rate_change = make_rate_cards(cfg)
    tax_codes, tax_change = make_tax_codes(cfg)
    return Commercial(accounts, projects, contracts, rate_cards, tax_codes, make_fx(cfg), rate_change, tax_change)
