"""Billing per legal entity: each entity bills in its own partition, the sensors request a run per entity, and one
entity's fault holds only its own batches."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb

from tests.helpers import materialize_as_of
from tests.helpers import query as q


def test_every_legal_entity_bills_in_its_partition_and_the_sensor_requests_a_run_per_entity(billed):
    """After the date's run, billing runs over the (date, legal entity) partitions of the date's projects, each entity
    recording only its own batches: `pssync run` in one run of the date's partition range, and for a nightly the
    schedule launched, entity_settle_sensor one run per entity, side by side; a run that billed its date itself
    (pssync run) gets none."""
    from assets.partitions import entity_key
    from dagster_project.definitions import build_definitions
    from dagster_project.sensors import entity_settle_sensor
    from resources.settings import PssyncSettings

    landing, wh, out, m = billed
    as_of = m["as_of"]
    runs = materialize_as_of(landing, wh, as_of, outputs=out)  # the date again: every entity replays its batches
    entities = [e for (e,) in q(wh, "SELECT DISTINCT legal_entity FROM billing.batches ORDER BY 1")]
    assert len(entities) >= 3, "the estate bills in several legal entities"
    date_run, billing_run, firm_run = runs.results  # the date, every entity's billing, the firm view after it
    assert sorted(e.asset_key.to_user_string() for e in firm_run.get_asset_materialization_events()) == [
        "billing/erp_publication",
        "recon/time_to_bill_exceptions",
    ]
    assert date_run.dagster_run.tags["dagster/partition"] == as_of
    materialized = {
        (
            e.event_specific_data.materialization.asset_key.to_user_string(),
            e.event_specific_data.materialization.partition,
        )
        for e in billing_run.get_asset_materialization_events()
    }
    assert {p for a, p in materialized if a == "billing/batches"} == {f"{as_of}|{e}" for e in entities}
    assert (
        q(wh, "SELECT count(*) FROM billing.batches WHERE NOT starts_with(batch_id, 'BB-' || legal_entity || '-')")[0][
            0
        ]
        == 0
    )

    date_run = runs.results[0]
    succeeded = runs.instance.all_logs(date_run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[0].dagster_event
    settings = PssyncSettings(warehouse=str(wh), landing_dir=str(landing))

    code_location = build_definitions().get_repository_def()  # what Dagster hands a sensor with its context

    def sensor_on(run, sensor=entity_settle_sensor, instance=None):
        instance = instance or dg.DagsterInstance.ephemeral()
        with dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=succeeded,
            dagster_instance=instance,
            dagster_run=run,
            resources={"settings": settings},
            repository_def=code_location,
        ) as ctx:
            return sensor(ctx), instance

    requests, instance = sensor_on(date_run.dagster_run)
    assert [(r.run_key, str(r.partition_key), r.asset_selection) for r in requests] == [
        (f"settle-{as_of}-{e}-{date_run.run_id}", f"{as_of}|{e}", None) for e in entities
    ]
    assert instance.get_dynamic_partitions("legal_entity") == entities
    # after an hourly run: each entity reconciles, and bills nothing
    hourly = sensor_on(date_run.dagster_run._replace(job_name="hourly_sync"))[0]
    assert {(tuple(r.asset_selection), r.tags["pssync/chain"]) for r in hourly} == {
        ((dg.AssetKey(["recon", "time_to_bill"]),), "hourly_sync")
    }
    inline = date_run.dagster_run.with_tags({**date_run.dagster_run.tags, "pssync/billing": "inline"})
    assert isinstance(sensor_on(inline)[0], dg.SkipReason)

    # the firm view follows once every entity's run has succeeded (its reconciliation, billing and marts), and only
    # then; an entity run that reconciled and then failed does not count
    from assets.partitions import entity_partitions
    from assets.recon.assets import TIME_TO_BILL
    from dagster_project.sensors import firm_view_sensor

    @dg.asset(key=TIME_TO_BILL, partitions_def=entity_partitions)
    def reconciled() -> None:
        """An entity's reconciliation, as far as the instance records it."""

    @dg.asset(deps=[reconciled], partitions_def=entity_partitions)
    def billing_that_fails() -> None:
        raise RuntimeError("the entity's billing failed")

    def settled(entity: str, after: str, chain: str = "nightly_sync", fails: bool = False):
        key = str(entity_key(as_of, entity))
        tags = {"pssync/after_run": after, "pssync/chain": chain}
        steps = [reconciled, billing_that_fails] if fails else [reconciled]
        result = dg.materialize(steps, partition_key=key, instance=instance, tags=tags, raise_on_error=False)
        assert result.success != fails
        run = instance.get_run_by_id(result.run_id)
        return run.with_tags({**run.tags, "dagster/partition/as_of": as_of})

    after = date_run.run_id
    for entity in entities[:-1]:
        waiting = sensor_on(settled(entity, after), firm_view_sensor, instance)[0]
        assert isinstance(waiting, dg.SkipReason) and entities[-1] in waiting.skip_message
    waiting = sensor_on(settled(entities[-1], after, fails=True), firm_view_sensor, instance)[0]
    assert isinstance(waiting, dg.SkipReason) and entities[-1] in waiting.skip_message
    request = sensor_on(settled(entities[-1], after), firm_view_sensor, instance)[0]
    assert (request.partition_key, request.run_key.startswith(f"firm-{as_of}-")) == (as_of, True)

    # after an hourly run: the firm view waits for every entity's reconciliation that followed that same run, and
    # then asks for the hourly's part of the firm view only
    def reconciled_after(entity: str, hourly_run: str):
        return settled(entity, hourly_run, chain="hourly_sync")

    for entity in entities[:-1]:
        waiting = sensor_on(reconciled_after(entity, "hourly-2"), firm_view_sensor, instance)[0]
        assert isinstance(waiting, dg.SkipReason) and entities[-1] in waiting.skip_message
    # a late entity run of an earlier hourly run: the others have not reconciled after that one, no firm view
    waiting = sensor_on(reconciled_after(entities[-1], "hourly-1"), firm_view_sensor, instance)[0]
    assert isinstance(waiting, dg.SkipReason) and all(e in waiting.skip_message for e in entities[:-1])
    request = sensor_on(reconciled_after(entities[-1], "hourly-2"), firm_view_sensor, instance)[0]
    assert request.tags["pssync/chain"] == "hourly_sync"
    assert [k.to_user_string() for k in request.asset_selection] == [
        "billing/erp_publication",
        "recon/time_to_bill_exceptions",
        "workbench/business_events",
        "workbench/exception_states",
    ]


def test_one_entitys_fault_holds_only_its_own_batches_and_a_rerun_records_nothing_twice(billed):
    """The entities of a date are recorded together: an entity whose lines break a rule (here its customers' tax
    code lost its rate) records nothing and says which keys; an entity whose name could not be a batch id's is
    refused by name; the other entities record exactly the batches the clean run recorded, once."""
    from assets.billing.emit import compute_and_record

    _landing, wh, _out, m = billed
    as_of = date.fromisoformat(m["as_of"])
    con = duckdb.connect(str(wh))
    clean = _batches_by_entity(con, as_of)  # what the pipeline's own run recorded
    codes = dict(con.execute("SELECT legal_entity, any_value(tax_code) FROM billing.batch_lines GROUP BY 1").fetchall())
    sharing = con.execute("SELECT tax_code FROM billing.batch_lines GROUP BY 1 HAVING count(DISTINCT legal_entity) > 1")
    shared = {c for (c,) in sharing.fetchall()}
    entities = sorted(clean)
    assert len(entities) >= 3
    faulty = next(e for e in entities if codes[e] not in shared)
    others = [e for e in entities if e != faulty]
    for table in ("billing.batch_lines", "billing.batches", "billing.ledger"):
        con.execute(f"DELETE FROM {table} WHERE as_of_date = ?", [as_of])
    con.execute("DELETE FROM canonical.tax_code_history WHERE tax_code = ?", [codes[faulty]])
    emissions = {em.legal_entity: em for em in compute_and_record(con, as_of, [*entities, "US01/../x"])}
    assert emissions["US01/../x"].problems == [
        "legal entity 'US01/../x' is not 2 to 12 capital letters or digits: nothing billed"
    ]
    assert emissions[faulty].problems[0].startswith("lines without a tax rate for the customer's tax code: [")
    assert emissions[faulty].batches == []
    assert {e: em.problems for e, em in emissions.items() if e in others} == {e: [] for e in others}
    after = _batches_by_entity(con, as_of)
    assert faulty not in after and after == {e: clean[e] for e in others}

    again = {em.legal_entity: em for em in compute_and_record(con, as_of, others)}
    assert all(em.replay for em in again.values())
    assert _batches_by_entity(con, as_of) == after
    assert con.execute("SELECT count(*) - count(DISTINCT idempotency_key) FROM billing.ledger").fetchone()[0] == 0
    con.close()


def _batches_by_entity(con, as_of: date) -> dict[str, list[tuple]]:
    rows = con.execute(
        "SELECT legal_entity, batch_id, line_count, net_amount, gross_amount FROM billing.batches "
        "WHERE as_of_date = ? ORDER BY batch_id",
        [as_of],
    ).fetchall()
    out: dict[str, list[tuple]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(r[1:])
    return out
