"""Payroll: pay periods and the contractor hours paid in them."""

from __future__ import annotations

from assets.extract.fields import DATE, MONEY, RATE, TEXT, F, SourceObject

PAYROLL = (
    SourceObject(
        "payroll",
        "pay_periods",
        (
            F("Company", TEXT, True),
            F("Period ID", TEXT, True),
            F("Start Date", DATE, True),
            F("End Date", DATE, True),
            F("Lock Date", DATE, True),
        ),
        key=("Period ID",),
        kind="csv",
        pattern="payroll/pay_periods.csv",
        owner="hr",
        snapshot=True,
        description="Payroll periods and their lock dates.",
    ),
    SourceObject(
        "payroll",
        "contractor_hours",
        (
            F("Period ID", TEXT, True),
            F("Employee ID", TEXT, True),
            F("Hours Paid", MONEY, True),
            F("Hourly Pay Rate", RATE),
            F("Currency"),
        ),
        key=("Period ID", "Employee ID"),
        kind="csv",
        pattern="payroll/contractor_hours_*.csv",
        owner="hr",
        snapshot=True,
        description="Hours paid to contingent workers per pay period.",
    ),
)
