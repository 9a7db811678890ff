"""What each source object looks like: fields, types, keys and how its versions are dated.

One declaration per source object (the source formats, docs/extract.md), in ``assets/extract/sources/`` by source
system; the extract assets, the raw tables and their validation are all derived from these, so a format rule lives
in exactly one place.
"""

from __future__ import annotations

from assets.extract.fields import SourceObject
from assets.extract.sources.crm import CRM
from assets.extract.sources.erp import ERP
from assets.extract.sources.hr import HR
from assets.extract.sources.payroll import PAYROLL
from assets.extract.sources.psa import PSA

ALL: tuple[SourceObject, ...] = CRM + PSA + HR + ERP + PAYROLL
BY_NAME = {s.name: s for s in ALL}
