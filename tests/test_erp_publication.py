"""Publication of billing batches to the ERP staging table: keyed, all or nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from resources import Warehouse
from resources.erp_staging import ErpStaging
from tests.helpers import emit_every_entity, materialize_as_of


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_staging_publication_is_keyed_and_all_or_nothing(billed, tmp_path, request, backend):
    landing, wh, out, m = billed
    url = f"sqlite:///{tmp_path / 'staging.db'}" if backend == "sqlite" else request.getfixturevalue("pg_database")
    staging = ErpStaging(url=url)
    with Warehouse(path=str(wh)).connect() as c:
        em = emit_every_entity(c, date.fromisoformat(m["as_of"]))
    batch = em.batches[0]["batch_id"]
    lines = em.lines[batch]
    with pytest.raises(RuntimeError, match="simulated failure"):
        staging.publish(lines, fail_after_rows=max(1, len(lines) // 2))
    eng = sa.create_engine(url)

    def count():
        with eng.connect() as c:
            return c.execute(
                sa.text("SELECT count(*), count(DISTINCT idempotency_key) FROM pssync_billing_staging")
            ).one()

    assert tuple(count()) == (0, 0), "a publish that fails half-way leaves no partial batch"
    assert staging.publish(lines) == len(lines)
    assert staging.publish(lines) == 0, "a repeated publish inserts nothing"
    # through Dagster: every released batch, published once however often the date runs (tests/test_release.py
    # has pending, rejected and dual-approval batches)
    from workbench.batches import batches, decide
    from workbench.policy import set_policy
    from workbench.store import open_store
    from workbench.users import add_user

    store = open_store(f"sqlite:///{wh.parent / 'workflow.db'}")
    add_user(store, "fin1", "finance", "correct horse battery", datetime(2026, 11, 26))
    add_user(store, "adm1", "admin", "correct horse battery", datetime(2026, 11, 26))
    set_policy(store, "dual_approval_above", "999999999.99", "adm1", datetime(2026, 11, 26))  # one person releases
    for b in batches(store):
        decide(store, b["batch_id"], "release", "fin1", datetime(2026, 11, 26))
    store.dispose()
    with eng.begin() as c:
        c.execute(sa.text("DELETE FROM pssync_billing_staging"))
    for _ in range(2):
        assert materialize_as_of(landing, wh, m["as_of"], outputs=out, staging_url=url).success
    total = sum(len(v) for v in em.lines.values())
    assert tuple(count()) == (total, total)
    eng.dispose()
