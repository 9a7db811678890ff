"""What incremental reconciliation keeps per table (``Kept``): the SQL it runs, the inputs whose arrivals it can
bound and how an arrival maps to the time entries or projects it touches; and what a run recomputes (``Scope``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from assets.canonical.entities import ENTITIES

# rows arrived in an input (temp table _arrived, the input's own columns) -> the entries, or the projects, they touch
_INVOICE_ENTRIES = (
    "SELECT psa_time_entry_id FROM canonical.invoice_line_history WHERE invoice_id IN (SELECT invoice_id FROM _arrived)"
)
TOUCHED_ENTRIES = {
    "canonical.time_entry_history": "SELECT time_entry_id FROM _arrived",
    "canonical.invoice_line_history": _INVOICE_ENTRIES,
    "canonical.invoice_history": _INVOICE_ENTRIES,
    "billing.ledger": "SELECT source_id FROM _arrived WHERE item = 'PS-TM-HOURS'",
}
TOUCHED_PROJECTS = {
    "canonical.project_history": "SELECT project_id FROM _arrived",
    "canonical.assignment_history": "SELECT project_id FROM canonical.assignment_history "
    "WHERE assignment_id IN (SELECT assignment_id FROM _arrived)",
}
# histories only ever appended to while their build is unchanged (assets/canonical/assets.py build_history): rows
# already there stay as they are, so what arrived is exactly the rows of later extractions
APPENDED = frozenset(f"canonical.{e.name}_history" for e in ENTITIES if e.row_local)
# projects one of whose versions is on a root contract that has, in any version or amendment, a not-to-exceed cap
CAPPED_PROJECTS = """
    SELECT project_id FROM canonical.project_history WHERE crm_contract_id IN (
        SELECT coalesce(amends_contract_id, contract_id) FROM canonical.contract_history WHERE nte_hours IS NOT NULL)"""


@dataclass(frozen=True)
class Kept:
    """A published per-date table written incrementally: the queries whose inputs it watches, and how rows arrived
    in an input bound the change (to entries, or to projects); an input not listed here recomputes the date."""

    table: str
    queries: tuple[str, ...]
    touched_entries: dict[str, str]
    touched_projects: dict[str, str]


TIME_TO_BILL = Kept(
    "recon.time_to_bill",
    ("recon/time_to_bill", "recon/cap_usage", "recon/billing_holds"),
    TOUCHED_ENTRIES,
    TOUCHED_PROJECTS,
)
# an unmatched invoice line depends on its own entry's existence: a new version of an entry touches the lines
# carrying it; new lines, invoices or projects recompute the date
BILLING_LINE_EXCEPTIONS = Kept(
    "recon.billing_line_exceptions",
    ("recon/billing_line_exceptions",),
    {"canonical.time_entry_history": TOUCHED_ENTRIES["canonical.time_entry_history"]},
    {},
)
# a contingent worker's hours in a pay period depend on their own entries in it: a new version of an entry touches
# the (worker, period) pairs of its versions; new pay periods, payroll hours, HR or crosswalk rows recompute the date
CONTRACTOR_HOURS = Kept(
    "recon.contractor_hours",
    ("recon/contractor_hours", "recon/contractor_scope"),
    {"canonical.time_entry_history": TOUCHED_ENTRIES["canonical.time_entry_history"]},
    {},
)


@dataclass(frozen=True)
class Scope:
    """What a run of the date recomputes: with a ``full_reason``, the whole date."""

    full_reason: str | None
    projects: int = 0  # projects on a capped contract the change reaches
    entries: int = 0  # entries whose rows are recomputed
    states: dict = field(default_factory=dict, compare=False)  # each input's state as the plan read it

    @property
    def full(self) -> bool:
        return self.full_reason is not None

    def describe(self) -> str:
        if self.full:
            return f"whole date ({self.full_reason})"
        return (
            f"{self.entries:,} entries whose inputs changed or whose contract's cap they move "
            f"(on {self.projects:,} capped projects)"
        )


OFF = Scope("PSSYNC_RECON_INCREMENTAL is off")
