"""Workday HR: workers, cost rates, time off and the other reports, as full snapshots."""

from __future__ import annotations

from assets.extract.fields import DATE, HOURS, RATE, TEXT, F, SourceObject

HR = (
    SourceObject(
        "hr",
        "workers",
        (
            F("Employee_ID", TEXT, True),
            F("Worker_Name"),
            F("Worker_Type", TEXT, True),
            F("Hire_Date", DATE, True),
            F("Termination_Date", DATE),
            F("Company", TEXT, True),
            F("Cost_Center"),
            F("Cost_Center_Name"),
            F("Country"),
            F("Job_Profile"),
            F("Practice"),
            F("Scheduled_Weekly_Hours", HOURS, True),
            F("Hourly_Cost_Rate", RATE, True),
            F("Cost_Rate_Currency"),
            F("Skills"),
            F("Manager_ID"),
        ),
        key=("Employee_ID",),
        kind="workday",
        pattern="hr/workers_*.json",
        owner="hr",
        snapshot=True,
        description="HR worker snapshots, one full report per drop date.",
    ),
    SourceObject(
        "hr",
        "time_off",
        (F("Employee_ID", TEXT, True), F("Date", DATE, True), F("Hours", HOURS, True), F("Type")),
        key=("Employee_ID", "Date"),
        kind="workday",
        pattern="hr/time_off_*.json",
        owner="hr",
        snapshot=True,
        description="Approved time off, each drop replacing 1 January through its date.",
    ),
    SourceObject(
        "hr",
        "holidays",
        (F("Country", TEXT, True), F("Date", DATE, True), F("Name")),
        key=("Country", "Date"),
        kind="workday",
        pattern="hr/holidays_*.json",
        owner="hr",
        snapshot=True,
        description="Public holidays per country and year.",
    ),
)
