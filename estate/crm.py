"""CRM: Salesforce-style REST query pages, a full load then monthly incremental folders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from estate.commercial import Commercial
from estate.config import EstateConfig, month_start
from estate.ids import sf_id
from estate.jsonfmt import dumps, write_text
from estate.reference import ENTITIES, PRACTICES, REGIONS, ROLE_NAMES
from estate.work import DAY

API = "/services/data/v60.0"
OPEN_STAGES = (("Prospecting", 10), ("Qualification", 25), ("Proposal", 50), ("Negotiation", 75))


def ts(cfg: EstateConfig, sec: int) -> datetime:
    return datetime.combine(cfg.start_date, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=int(sec))


def iso(cfg: EstateConfig, sec: int) -> str:
    return ts(cfg, sec).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def day_iso(cfg: EstateConfig, day) -> str | None:
    if day is None:
        return None
    return (cfg.start_date + timedelta(days=int(day))).isoformat()


def extract_times(cfg: EstateConfig, n_days: int) -> list[int]:
    """Extraction instants (seconds from the horizon start): the full load, then the 1st of every
    month, then the evening of the end date."""
    out = [3600]
    for k in range(1, cfg.months):
        out.append((month_start(cfg.start_date, k) - cfg.start_date).days * DAY + 3600)
    out.append((n_days - 1) * DAY + 22 * 3600)
    return sorted(set(out))


def build_versions(cfg: EstateConfig, com: Commercial, n_days: int, truth: dict) -> dict[str, list[dict]]:
    """Every version of every CRM record, each with its SystemModstamp (``_sec``)."""
    rng = np.random.default_rng([cfg.seed, 7])
    accounts = []
    for row in com.accounts.iter_rows(named=True):
        base = {
            "Id": row["Id"],
            "Name": row["Name"],
            "BillingCountry": row["BillingCountry"],
            "CurrencyIsoCode": row["CurrencyIsoCode"],
            "Industry": row["Industry"],
            "ERP_Customer_Id__c": str(row["customer_internal_id"]),
            "IsDeleted": False,
        }
        accounts.append({**base, "_sec": -200 * DAY + 3600 + row["account"]})
        if not row["erp_mapped"]:
            accounts.append(
                {**base, "ERP_Customer_Id__c": None, "_sec": (n_days - 20) * DAY + 9 * 3600 + row["account"]}
            )

    acc_id = com.accounts["Id"].to_list()
    contracts, opps = [], []
    roots = com.contracts.filter(pl.col("amends").is_null()).sort("contract")
    n_opp = 0
    opp_of_contract = {}
    for r in roots.iter_rows(named=True):
        n_opp += 1
        oid = sf_id("006", n_opp)
        opp_of_contract[r["Id"]] = oid
        close = r["start_day"] - 14
        amount = int(rng.integers(50, 900)) * 1000
        base = {
            "Id": oid,
            "AccountId": acc_id[r["account"]],
            "Name": f"{r['legal_entity']} engagement {r['ContractNumber']}",
            "Amount": amount,
            "CurrencyIsoCode": r["currency"],
            "CloseDate": day_iso(cfg, close),
            "Practice__c": PRACTICES[r["contract"] % len(PRACTICES)],
            "Start_Date__c": day_iso(cfg, r["start_day"]),
            "End_Date__c": day_iso(cfg, r["end_day"]),
            "Staffing_Plan__c": None,
            "IsDeleted": False,
        }
        opps.append(
            {
                **base,
                "StageName": "Proposal",
                "Probability": 50,
                "IsClosed": False,
                "IsWon": False,
                "_sec": (close - 60) * DAY + 10 * 3600 + n_opp,
            }
        )
        opps.append(
            {
                **base,
                "StageName": "Closed Won",
                "Probability": 100,
                "IsClosed": True,
                "IsWon": True,
                "_sec": close * DAY + 16 * 3600 + n_opp,
            }
        )
    for r in com.contracts.sort("contract").iter_rows(named=True):
        nte = r.get("nte_cents")
        base = {
            "Id": r["Id"],
            "AccountId": acc_id[r["account"]],
            "Opportunity__c": opp_of_contract.get(r["amends"] or r["Id"]),
            "ContractNumber": r["ContractNumber"],
            "Status": r["Status"],
            "StartDate": day_iso(cfg, r["start_day"]),
            "EndDate": day_iso(cfg, r["end_day"]),
            "Billing_Type__c": "Time and Materials" if r["billing_type"] == "tm" else "Fixed Fee",
            "Rate_Card__c": r["card"],
            "Discount_Percent__c": _pct(r["discount_x10"]),
            "NTE_Hours__c": None if nte is None else _hours(nte),
            "CurrencyIsoCode": r["currency"],
            "Legal_Entity__c": r["legal_entity"],
            "Amends__c": r["amends"],
            "IsDeleted": False,
        }
        sec = r["modstamp_day"] * DAY + 11 * 3600 + r["contract"]
        if r.get("prev_end_day") is not None:
            contracts.append(
                {
                    **base,
                    "EndDate": day_iso(cfg, r["prev_end_day"]),
                    "_sec": (r["start_day"] - 10) * DAY + 11 * 3600 + r["contract"],
                }
            )
        contracts.append({**base, "_sec": sec})

    # the open pipeline: feeds the staffing forecast; some cross the threshold late, some are lost or deleted
    n_pipe = max(8, cfg.employees // 10)
    for i in range(n_pipe):
        n_opp += 1
        oid = sf_id("006", n_opp)
        created = int(rng.integers(max(n_days - 150, 0), max(n_days - 30, 1)))
        start = n_days + int(rng.integers(15, 120))
        end = start + int(rng.integers(60, 240))
        ent = int(rng.integers(len(ENTITIES)))
        plan = [
            {
                "role": ROLE_NAMES[int(rng.integers(len(ROLE_NAMES)))],
                "region": REGIONS[int(rng.integers(len(REGIONS)))],
                "hours": int(rng.integers(4, 60)) * 10,
            }
            for _ in range(int(rng.integers(1, 4)))
        ]
        base = {
            "Id": oid,
            "AccountId": acc_id[int(rng.integers(len(acc_id)))],
            "Name": f"Pipeline deal {i + 1}",
            "Amount": int(rng.integers(40, 600)) * 1000,
            "CurrencyIsoCode": ENTITIES[ent].currency,
            "CloseDate": day_iso(cfg, start - 10),
            "Practice__c": PRACTICES[i % len(PRACTICES)],
            "Start_Date__c": day_iso(cfg, start),
            "End_Date__c": day_iso(cfg, end),
            "Staffing_Plan__c": dumps(plan) if rng.random() > 0.1 else None,
            "IsClosed": False,
            "IsWon": False,
            "IsDeleted": False,
        }
        opps.append({**base, "StageName": "Prospecting", "Probability": 10, "_sec": created * DAY + 9 * 3600 + i})
        roll = rng.random()
        later = int(rng.integers(created + 1, n_days)) * DAY + 15 * 3600 + i
        if roll < 0.15:
            opps.append({**base, "StageName": "Closed Lost", "Probability": 0, "IsClosed": True, "_sec": later})
        elif roll < 0.2:
            opps.append({**base, "StageName": "Qualification", "Probability": 25, "IsDeleted": True, "_sec": later})
        else:
            stage, prob = OPEN_STAGES[int(rng.integers(1, len(OPEN_STAGES)))]
            opps.append({**base, "StageName": stage, "Probability": prob, "_sec": later})
    # malformed: a record whose Probability is not a number
    n_opp += 1
    bad = {
        "Id": sf_id("006", n_opp),
        "AccountId": acc_id[0],
        "Name": "Malformed deal",
        "StageName": "Proposal",
        "Probability": "high",
        "Amount": 1000,
        "CurrencyIsoCode": "USD",
        "CloseDate": day_iso(cfg, n_days + 5),
        "Practice__c": PRACTICES[0],
        "Start_Date__c": day_iso(cfg, n_days + 20),
        "End_Date__c": day_iso(cfg, n_days + 80),
        "Staffing_Plan__c": None,
        "IsClosed": False,
        "IsWon": False,
        "IsDeleted": False,
        "_sec": (n_days - 2) * DAY + 12 * 3600,
    }
    opps.append(bad)
    truth.setdefault("malformed", []).append(
        {
            "source": "crm",
            "object": "Opportunity",
            "record_key": bad["Id"],
            "field": "Probability",
            "rule": "wrong_type",
            "message": "Probability must be a number, got the string 'high'",
        }
    )
    return {"Account": accounts, "Opportunity": opps, "Contract": contracts}


def _pct(x10):
    return None if x10 in (None, 0) else (x10 // 10 if x10 % 10 == 0 else x10 / 10)


def _hours(cents: int):
    return cents // 100 if cents % 100 == 0 else cents / 100


FIELDS = {
    "Account": ["Id", "Name", "BillingCountry", "CurrencyIsoCode", "Industry", "ERP_Customer_Id__c", "IsDeleted"],
    "Opportunity": [
        "Id",
        "AccountId",
        "Name",
        "StageName",
        "Probability",
        "Amount",
        "CurrencyIsoCode",
        "CloseDate",
        "Practice__c",
        "Start_Date__c",
        "End_Date__c",
        "Staffing_Plan__c",
        "IsClosed",
        "IsWon",
        "IsDeleted",
    ],
    "Contract": [
        "Id",
        "AccountId",
        "Opportunity__c",
        "ContractNumber",
        "Status",
        "StartDate",
        "EndDate",
        "Billing_Type__c",
        "Rate_Card__c",
        "Discount_Percent__c",
        "NTE_Hours__c",
        "CurrencyIsoCode",
        "Legal_Entity__c",
        "Amends__c",
        "IsDeleted",
    ],
}


def write_crm(cfg: EstateConfig, versions: dict[str, list[dict]], n_days: int) -> list[str]:
    times = extract_times(cfg, n_days)
    folders = []
    prev = None
    for t in times:
        folder = ts(cfg, t).strftime("%Y%m%dT%H%M%SZ")
        folders.append(folder)
        for obj, recs in versions.items():
            window = [r for r in recs if r["_sec"] <= t and (prev is None or r["_sec"] > prev)]
            latest: dict[str, dict] = {}
            for r in sorted(window, key=lambda r: (r["_sec"], r["Id"])):
                latest[r["Id"]] = r
            rows = sorted(latest.values(), key=lambda r: (r["_sec"], r["Id"]))
            _write_pages(cfg, folder, obj, rows)
        prev = t
    return folders


def _write_pages(cfg: EstateConfig, folder: str, obj: str, rows: list[dict]) -> None:
    size = cfg.crm_page_size
    pages = [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]
    for n, page in enumerate(pages, start=1):
        records = []
        for r in page:
            rec = {"attributes": {"type": obj, "url": f"{API}/sobjects/{obj}/{r['Id']}"}}
            rec.update({f: r.get(f) for f in FIELDS[obj]})
            rec["SystemModstamp"] = iso(cfg, r["_sec"])
            records.append(rec)
        last = n == len(pages)
        doc = {"totalSize": len(rows), "done": last}
        if not last:
            doc["nextRecordsUrl"] = f"{API}/query/01g{folder[:8]}{obj[:3].upper()}-{n * size}"
        doc["records"] = records
        write_text(
            cfg.landing / "crm" / folder / f"{obj}-{n:05d}.json", json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
        )
