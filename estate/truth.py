"""The oracle: the expected recon status of every time entry, from what the generator knows.

It follows the reconciliation rules of docs/recon.md (status precedence, eligibility reasons, not-to-exceed
consumption) on the generator's own integer representation, independently of the pipeline.
"""

from __future__ import annotations

import polars as pl

OWNER = {
    "NOT_APPROVED_BILLED": "finance",
    "NOT_BILLABLE_BILLED": "finance",
    "DUPLICATE_BILLED": "finance",
    "HOURS_MISMATCH": "finance",
    "RATE_MISMATCH": "finance",
    "OVER_CAP": "delivery",
}
REASON_OWNER = {
    "UNMAPPED_EMPLOYEE": "hr",
    "OUTSIDE_EMPLOYMENT": "hr",
    "PROJECT_ON_HOLD": "delivery",
    "PROJECT_CLOSED": "delivery",
    "NO_ACTIVE_CONTRACT": "finance",
    "UNMAPPED_CUSTOMER": "finance",
    "MISSING_RATE": "finance",
}
QUIET = ("BILLED_OK", "NON_BILLABLE", "FIXED_FEE")


def billed_stats(lines: pl.DataFrame, invoices: pl.DataFrame) -> pl.DataFrame:
    """Per time entry: billed lines on non-voided invoices (PS-TM-HOURS and PS-ADJUSTMENT), in entry id order."""
    live = invoices.filter(pl.col("status") != "Voided").select("invoice_id", "day")
    bl = (
        lines.select("invoice_id", "line", "item", "source_id", "quantity_cents", "rate_e4")
        .filter(pl.col("item").is_in(["PS-TM-HOURS", "PS-ADJUSTMENT"]) & pl.col("source_id").is_not_null())
        .join(live, on="invoice_id")
    )
    return (
        bl.sort(["day", "invoice_id", "line"])
        .group_by("source_id", maintain_order=True)
        .agg(
            billed_line_count=pl.len(),
            tm_count=(pl.col("item") == "PS-TM-HOURS").sum(),
            net_billed_cents=pl.col("quantity_cents").sum(),
            billed_rate_e4=pl.col("rate_e4").filter(pl.col("item") == "PS-TM-HOURS").first(),
        )
        .rename({"source_id": "time_entry_id"})
        .sort("time_entry_id")
    )


def classify(
    entries: pl.DataFrame,
    stats: pl.DataFrame,
    caps: pl.DataFrame,
    used: pl.DataFrame | None = None,
    carried: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``entries`` carries: time_entry_id, day, minutes, quantity_cents, billable, billing_type,
    project status, live_approved, mapped, employed, contract_ok, customer_ok, expected_rate_e4,
    root contract id. ``caps``: contract id -> cap_cents (hundredths of an hour).

    The entries may be one month of the estate, taken in work-date order: then ``used`` gives each contract's
    billed consumption over the whole estate (contract_id -> billed_cents) and ``carried`` the eligible hours of
    the earlier months counted against its cap (contract_id -> carried_cents)."""
    e = entries.join(stats, on="time_entry_id", how="left").with_columns(
        pl.col("billed_line_count").fill_null(0),
        pl.col("tm_count").fill_null(0),
        pl.col("net_billed_cents").fill_null(0),
    )
    billed = pl.col("billed_line_count") > 0
    not_billable = ~pl.col("billable") | (pl.col("billing_type") != "tm")
    e = e.filter(pl.col("live_approved") | billed)
    reason = (
        pl.when(~pl.col("mapped"))
        .then(pl.lit("UNMAPPED_EMPLOYEE"))
        .when(~pl.col("employed"))
        .then(pl.lit("OUTSIDE_EMPLOYMENT"))
        .when(pl.col("project_status") == "on_hold")
        .then(pl.lit("PROJECT_ON_HOLD"))
        .when(pl.col("project_status") == "closed")
        .then(pl.lit("PROJECT_CLOSED"))
        .when(~pl.col("contract_ok"))
        .then(pl.lit("NO_ACTIVE_CONTRACT"))
        .when(~pl.col("customer_ok"))
        .then(pl.lit("UNMAPPED_CUSTOMER"))
        .when(pl.col("expected_rate_e4").is_null())
        .then(pl.lit("MISSING_RATE"))
    )
    rate_off = pl.col("expected_rate_e4").is_null() | (
        (pl.col("billed_rate_e4") - pl.col("expected_rate_e4")).abs() > 50
    )
    e = (
        e.with_columns(
            status=pl.when(billed & ~pl.col("live_approved"))
            .then(pl.lit("NOT_APPROVED_BILLED"))
            .when(billed & not_billable)
            .then(pl.lit("NOT_BILLABLE_BILLED"))
            .when(pl.col("tm_count") > 1)
            .then(pl.lit("DUPLICATE_BILLED"))
            .when(billed & ((pl.col("net_billed_cents") - pl.col("quantity_cents")).abs() > 0))
            .then(pl.lit("HOURS_MISMATCH"))
            .when(billed & rate_off)
            .then(pl.lit("RATE_MISMATCH"))
            .when(billed)
            .then(pl.lit("BILLED_OK"))
            .when(~pl.col("billable") | (pl.col("billing_type") == "non_billable"))
            .then(pl.lit("NON_BILLABLE"))
            .when(pl.col("billing_type") == "fixed_fee")
            .then(pl.lit("FIXED_FEE"))
            .when(reason.is_not_null())
            .then(pl.lit("INELIGIBLE"))
            .otherwise(pl.lit("UNBILLED")),
            _reason=reason,
        )
        .with_columns(
            reason=pl.when(pl.col("status") == "INELIGIBLE")
            .then(pl.col("_reason"))
            .when((pl.col("status") == "RATE_MISMATCH") & pl.col("expected_rate_e4").is_null())
            .then(pl.lit("MISSING_RATE")),
        )
        .drop("_reason")
    )
    # not-to-exceed: billed consumption plus eligible entries in (work date, id) order
    if used is None:
        used = e.group_by("contract_id").agg(billed_cents=pl.col("net_billed_cents").sum())
    if carried is None:
        carried = pl.DataFrame(schema={"contract_id": pl.Utf8, "carried_cents": pl.Int64})
    elig = (
        e.filter(pl.col("status") == "UNBILLED")
        .join(caps, on="contract_id")
        .join(used, on="contract_id")
        .join(carried, on="contract_id", how="left")
        .sort(["day", "time_entry_id"])
        .with_columns(
            before=pl.col("billed_cents")
            + pl.col("carried_cents").fill_null(0)
            + pl.col("quantity_cents").cum_sum().over("contract_id")
            - pl.col("quantity_cents")
        )
        .with_columns(
            cap_status=pl.when(pl.col("before") + pl.col("quantity_cents") <= pl.col("cap_cents"))
            .then(None)
            .when(pl.col("before") < pl.col("cap_cents"))
            .then(pl.lit("PARTIAL_CAP"))
            .otherwise(pl.lit("OVER_CAP"))
        )
        .select("time_entry_id", "cap_status")
    )
    e = e.join(elig, on="time_entry_id", how="left").with_columns(
        status=pl.when(pl.col("cap_status") == "OVER_CAP").then(pl.lit("OVER_CAP")).otherwise(pl.col("status")),
        reason=pl.when(pl.col("cap_status") == "PARTIAL_CAP").then(pl.lit("PARTIAL_CAP")).otherwise(pl.col("reason")),
    )
    return e.with_columns(
        owner=pl.when(pl.col("status") == "INELIGIBLE")
        .then(pl.col("reason").replace_strict(REASON_OWNER, default=None))
        .otherwise(pl.col("status").replace_strict(OWNER, default=None)),
    ).sort("time_entry_id")


def flagged(classified: pl.DataFrame) -> pl.DataFrame:
    """Entries the pipeline must flag: anything but quiet statuses and plain UNBILLED."""
    return classified.filter(
        ~pl.col("status").is_in(QUIET) & ~((pl.col("status") == "UNBILLED") & pl.col("reason").is_null())
    )
