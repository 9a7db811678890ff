"""Billing batches: exactly once, replayable, published to files and the ERP staging table."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.billing.emit import write_files
from resources import Warehouse
from resources.outputs import OutputFolder
from tests.helpers import emit_every_entity, materialize_as_of
from tests.helpers import query as q
from tests.scenario import Scenario
from tests.scenario_files import header, write_csv

TM = "PS-TM-HOURS"


def files_digest(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "billing_batches").glob("*.json"))}


def import_into_erp(landing: Path, batch_files: list[Path], day: date, first_invoice_id: int) -> None:
    """Simulate the ERP importing pssync batches: invoices carrying the Billing Batch ID, one line per batch line."""
    heads, lines = [], []
    for n, path in enumerate(batch_files):
        doc = json.loads(path.read_text())
        inv = first_invoice_id + n
        heads.append(
            [
                inv,
                f"INV-IMP-{inv}",
                doc["customer_id"],
                1,
                day.isoformat(),
                day.isoformat(),
                doc["currency"],
                "1.000000",
                "Open",
                doc["batch_id"],
                "imported",
                f"{day}T09:00:00Z",
                f"{day}T09:00:00Z",
            ]
        )
        for ln in doc["lines"]:
            te = ln["source_id"] if ln["item"] in (TM, "PS-ADJUSTMENT") else ""
            ms = ln["source_id"] if ln["item"] == "PS-FF-MILESTONE" else ""
            ex = ln["source_id"] if ln["item"] == "PS-EXPENSE" else ""
            lines.append(
                [
                    inv,
                    ln["line_no"],
                    ln["item"],
                    ln["project_code"],
                    ln["quantity"],
                    ln["rate"],
                    ln["amount"],
                    ln["tax_code"],
                    ln["tax_amount"],
                    te,
                    ms,
                    ex,
                    ln["service_date"],
                ]
            )
    for name, columns, rows in (
        (
            "invoices",
            header("erp_invoices"),
            heads,
        ),
        (
            "invoice_lines",
            header("erp_invoice_lines"),
            lines,
        ),
    ):
        write_csv(landing / "erp" / f"{name}_{day.isoformat()}.csv", columns, rows)


def test_time_lines_are_the_unbilled_entries_of_the_ground_truth_at_the_expected_rate(billed):
    landing, wh, _out, m = billed
    truth = pl.read_parquet(landing / "_truth" / "time_to_bill_expected.parquet")
    unbilled = truth.filter(pl.col("status") == "UNBILLED")
    lines = (
        duckdb.connect(str(wh), read_only=True)
        .sql("SELECT source_id, quantity, rate, amount FROM billing.batch_lines WHERE item = 'PS-TM-HOURS'")
        .pl()
    )
    assert set(lines["source_id"]) == set(unbilled["time_entry_id"])
    j = lines.join(unbilled, left_on="source_id", right_on="time_entry_id")
    assert (j["rate"].cast(pl.Float64) * 10_000).round(0).cast(pl.Int64).to_list() == j["expected_rate_e4"].to_list()
    full = j.filter(pl.col("reason").is_null())
    assert (full["quantity"].cast(pl.Float64) * 100).round(0).cast(pl.Int64).to_list() == full[
        "quantity_cents"
    ].to_list()
    assert all(
        a == (q * r).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        for q, r, a in zip(lines["quantity"], lines["rate"], lines["amount"])
    )
    # adjustments: one per HOURS_MISMATCH entry of the truth, for the difference in hours
    adj = {r[0] for r in q(wh, "SELECT source_id FROM billing.batch_lines WHERE item = 'PS-ADJUSTMENT'")}
    assert adj == {c["time_entry_id"] for c in m["time_entries"] if c["recon_status"] == "HOURS_MISMATCH"}
    # no key twice, and the ledger holds exactly the emitted keys
    assert (
        q(wh, "SELECT count(*), count(DISTINCT idempotency_key) FROM billing.batch_lines")[0][0]
        == q(wh, "SELECT count(*) FROM billing.ledger")[0][0]
    )


def test_batch_totals_equal_a_hand_computation(tmp_path, monkeypatch):
    s = Scenario(tmp_path / "landing")
    s.customers[0]["tax"] = "UK-VAT20"
    s.entry(1, "2026-03-13")  # 8.00 h x 100.0000 = 800.00, tax 160.00
    s.entry(2, "2026-03-16", minutes=50)  # 0.83 h x 110.0000 = 91.30, tax 18.26
    s.entry(3, "2026-03-17", minutes=45, status="submitted")  # not approved: not billed
    wh, out = tmp_path / "wh.duckdb", tmp_path / "out"
    s.write()
    assert materialize_as_of(s.root, wh, "2026-03-31", outputs=out).success
    doc = json.loads((out / "billing_batches" / "BB-US01-1001-USD-20260331.json").read_text())
    assert (doc["line_count"], doc["net_amount"], doc["tax_amount"], doc["gross_amount"]) == (
        2,
        "891.30",
        "178.26",
        "1069.56",
    )
    assert [
        (ln["line_no"], ln["source_id"], ln["quantity"], ln["rate"], ln["amount"], ln["tax_amount"])
        for ln in doc["lines"]
    ] == [(1, 1, "8.00", "100.0000", "800.00", "160.00"), (2, 2, "0.83", "110.0000", "91.30", "18.26")]
    assert doc["lines"][0]["idempotency_key"] == "PS-TM-HOURS:1:1"


def test_a_batch_file_is_the_indented_json_of_its_header_and_lines_byte_for_byte():
    """The batch file's bytes are those of ``json.dumps(..., sort_keys=True, indent=2, ensure_ascii=False)``, which
    earlier releases wrote, for any text a line may carry (quotes, backslashes, newlines, accents, a key-like
    string) and for a batch of no line: files written before and after stay byte-identical."""
    from assets.billing.emit import batch_document

    header = {
        "batch_id": "BB-UK01-7-GBP-20260930",
        "as_of_date": date(2026, 9, 30),
        "legal_entity": "UK01",
        "customer_id": 7,
        "currency": "GBP",
        "line_count": 2,
        "net_amount": Decimal("12480.00"),
        "tax_amount": Decimal("2496.00"),
        "gross_amount": Decimal("14976.00"),
    }
    odd = 'Müller "Q3" \\ review\n"lines": [],\t{}'
    lines = [
        {
            "batch_id": header["batch_id"],
            "line_no": 1,
            "item": TM,
            "project_code": odd,
            "service_date": date(2026, 9, 1),
            "quantity": Decimal("8.00"),
            "rate": Decimal("1560.0000"),
            "amount": Decimal("12480.00"),
            "tax_code": None,
        },
        {
            "batch_id": header["batch_id"],
            "line_no": 2,
            "item": "PS-ADJUSTMENT",
            "project_code": "P-2",
            "service_date": date(2026, 9, 2),
            "quantity": Decimal("-0.50"),
            "rate": Decimal("0.0000"),
            "amount": Decimal("0.00"),
            "tax_code": "UK-VAT20",
        },
    ]

    def written_before(header, lines):
        plain = lambda v: str(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else v  # noqa: E731
        doc = {**{k: plain(v) for k, v in header.items()}}
        doc["lines"] = [{k: plain(v) for k, v in ln.items() if k != "batch_id"} for ln in lines]
        return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    for some in (lines, lines[:1], []):
        assert batch_document(header, some) == written_before(header, some)
    doc = json.loads(batch_document(header, lines))
    assert doc["lines"][0]["project_code"] == odd and doc["gross_amount"] == "14976.00"
    assert "batch_id" not in doc["lines"][0]


@pytest.mark.long
def test_replays_and_crashes_reproduce_identical_files_and_never_duplicate_a_key(billed, tmp_path, monkeypatch):
    landing, wh, out, m = billed
    as_of = date.fromisoformat(m["as_of"])
    first = files_digest(out)
    assert first
    # running the date again
    assert materialize_as_of(landing, wh, m["as_of"], outputs=out).success
    assert files_digest(out) == first
    keys = q(wh, "SELECT count(*), count(DISTINCT idempotency_key) FROM billing.ledger")[0]
    assert keys[0] == keys[1]

    # crash after the ledger commit, before any file: a re-run writes the same files
    wh2, out2 = tmp_path / "wh2.duckdb", tmp_path / "out2"
    w2 = Warehouse(path=str(wh2))
    assert materialize_as_of(landing, wh2, m["as_of"], outputs=out2).success
    (out2 / "billing_batches").rename(out2 / "lost")  # as if the files never got written
    with w2.connect() as c:
        em = emit_every_entity(c, as_of)
        assert em.replay
    assert materialize_as_of(landing, wh2, m["as_of"], outputs=out2).success
    assert files_digest(out2) == first

    # crash while writing files (after the first): the re-run completes them, identical
    wh3, out3 = tmp_path / "wh3.duckdb", tmp_path / "out3"
    assert materialize_as_of(landing, wh3, m["as_of"], outputs=out3).success
    for p in (out3 / "billing_batches").glob("*.json"):
        p.unlink()

    import assets.billing.emit as emit

    real_write, written = emit.write_atomically, []

    def write_then_die(path, data):  # killed right after the first file is complete
        if written:
            raise KeyboardInterrupt("killed")
        real_write(path, data)
        written.append(path)

    with Warehouse(path=str(wh3)).connect() as c:
        em = emit_every_entity(c, as_of)
    monkeypatch.setattr(emit, "write_atomically", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        write_files(em, OutputFolder(path=str(out3)))
    monkeypatch.setattr(emit, "write_atomically", real_write)
    assert len(files_digest(out3)) == 1 and not list((out3 / "billing_batches").glob(".*.tmp"))
    assert materialize_as_of(landing, wh3, m["as_of"], outputs=out3).success
    assert files_digest(out3) == first

    # the other order: files written, then a crash before the ledger committed; the re-run records the same lines
    wh4, out4 = tmp_path / "wh4.duckdb", tmp_path / "out4"
    (out4 / "billing_batches").mkdir(parents=True)
    for name, data in first.items():  # files from an attempt whose ledger transaction never committed
        (out4 / "billing_batches" / name).write_bytes(data)
    assert materialize_as_of(landing, wh4, m["as_of"], outputs=out4).success
    assert files_digest(out4) == first
    assert q(wh4, "SELECT count(*) FROM billing.ledger") == q(wh, "SELECT count(*) FROM billing.ledger")


def test_a_crash_before_the_ledger_commit_leaves_nothing(billed, tmp_path, monkeypatch):
    landing, _wh, _out, m = billed
    wh2 = tmp_path / "fresh.duckdb"
    from assets.billing.assets import billing_assets
    from tests.helpers import all_assets

    not_billing = [a for a in all_assets() if a not in billing_assets]
    assert materialize_as_of(landing, wh2, m["as_of"], assets=not_billing).success

    import assets.billing.emit as emit

    def killed(*_):  # the last check before the commit: the process dies here
        raise KeyboardInterrupt("killed before the ledger commit")

    monkeypatch.setattr(emit, "_totals_problems", killed)
    with Warehouse(path=str(wh2)).connect() as c:
        with pytest.raises(KeyboardInterrupt):
            emit_every_entity(c, date.fromisoformat(m["as_of"]))
        assert c.execute("SELECT count(*) FROM billing.ledger").fetchall()[0][0] == 0
        assert c.execute("SELECT count(*) FROM billing.batch_lines").fetchall()[0][0] == 0


def test_next_day_carries_none_of_the_keys_and_imported_batches_reconcile(billed, tmp_path):
    landing, wh, out, m = billed
    d0 = date.fromisoformat(m["as_of"])
    d1, d2 = d0 + timedelta(days=1), d0 + timedelta(days=2)
    keys_d0 = {r[0] for r in q(wh, "SELECT idempotency_key FROM billing.ledger")}
    out1 = tmp_path / "out1"
    assert materialize_as_of(landing, wh, d1.isoformat(), outputs=out1).success
    keys_d1 = {r[0] for r in q(wh, "SELECT idempotency_key FROM billing.ledger WHERE as_of_date = ?", [d1])}
    assert not keys_d0 & keys_d1 and keys_d1 == set()
    assert {
        r[0]
        for r in q(
            wh,
            "SELECT DISTINCT recon_status FROM recon.time_to_bill WHERE as_of_date = ? AND batch_id IS NOT NULL",
            [d1],
        )
    } == {"BATCHED"}

    # the ERP imports D0's batches; an entry is edited afterwards in the PSA
    import_into_erp(landing, sorted((out / "billing_batches").glob("*.json")), d2, 9_000_001)
    edited = q(wh, "SELECT source_id FROM billing.batch_lines WHERE item = 'PS-TM-HOURS' ORDER BY source_id LIMIT 1")[
        0
    ][0]
    import sqlite3

    db = sqlite3.connect(landing / "psa" / "psa.db")
    db.execute(
        "UPDATE time_entries SET time_in_minutes = time_in_minutes + 30, revision = revision + 1, "
        f"updated_at = '{d2} 12:00:00.000000' WHERE time_entry_id = ?",
        (edited,),
    )
    db.commit()
    db.close()
    out2 = tmp_path / "out2"
    assert materialize_as_of(landing, wh, d2.isoformat(), outputs=out2).success
    statuses = dict(
        q(
            wh,
            """SELECT r.recon_status, count(*) FROM recon.time_to_bill r
                             JOIN billing.batch_lines l ON l.source_id = r.time_entry_id AND l.item = 'PS-TM-HOURS'
                             AND l.as_of_date = ? WHERE r.as_of_date = ? GROUP BY 1""",
            [d0, d2],
        )
    )
    assert statuses == {"BILLED_OK": len([k for k in keys_d0 if k.startswith(TM)]) - 1, "HOURS_MISMATCH": 1}
    partial = q(
        wh,
        "SELECT recon_status, reason FROM recon.time_to_bill WHERE as_of_date = ? AND time_entry_id IN "
        "(SELECT time_entry_id FROM recon.time_to_bill WHERE as_of_date = ? AND reason = 'PARTIAL_CAP')",
        [d2, d0],
    )
    assert partial == [("BILLED_OK", "PARTIAL_CAP")], "hours beyond the cap are a write-down, not a mismatch"
    adjustments = q(
        wh,
        "SELECT idempotency_key, quantity FROM billing.batch_lines WHERE as_of_date = ? "
        "AND item = 'PS-ADJUSTMENT' AND source_id = ?",
        [d2, edited],
    )
    assert adjustments == [(f"PS-ADJUSTMENT:{edited}:2", Decimal("0.50"))]
    # the day after, the same adjustment is not emitted again
    d3 = d2 + timedelta(days=1)
    assert materialize_as_of(landing, wh, d3.isoformat(), outputs=tmp_path / "out3").success
    assert q(
        wh, "SELECT count(*) FROM billing.batch_lines WHERE source_id = ? AND item = 'PS-ADJUSTMENT'", [edited]
    ) == [(1,)]
