"""Running the pipeline in process, as the CLI, the demo and the tests do."""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg


def yesterday_utc() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


class DateRuns:
    """The runs that settle one as-of date in process: the date's run, the entity_settle run of every legal entity of
    the date, the firm view (`stages_of`). Read like one run's result (success, events, materializations)."""

    def __init__(self, results: list, instance: dg.DagsterInstance):
        self.results = results
        self.instance = instance

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.results]

    @property
    def all_events(self) -> list:
        return [e for r in self.results for e in r.all_events]

    def get_asset_materialization_events(self) -> list:
        return [e for r in self.results for e in r.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list:
        return [e for r in self.results for e in r.get_asset_check_evaluations()]


def run_pipeline(
    as_of: date,
    selection: str | None = None,
    raise_on_error: bool = True,
    job_name: str = "full_pipeline",
    on: dg.DagsterInstance | None = None,
    tags: dict | None = None,
) -> DateRuns:
    """Materialize a job (by default every asset), or an asset selection, in process for as-of ``as_of``;
    ``tags`` are added to the run's (a backfill's name, say). After a job of the date stage (jobs.STAGED) follow one
    entity_settle run over the partitions of every legal entity of the date, then the firm view (`stages_of`), each
    only when the run before it succeeded."""
    from dagster_project.definitions import build_definitions
    from resources.settings import current

    settings = current()
    defs = build_definitions()
    # the terminal gets stage lines and a verdict; Dagster's own log (with traces) only when asked for
    run_config = {"loggers": {"console": {"config": {"log_level": settings.log_level.upper()}}}}
    tags = {**settings.as_tags(as_of.isoformat()), **(tags or {})}  # the settings this run used, shown in the UI
    where = on or instance()
    stages = stages_of(defs.resolve_asset_graph(), job_name, selection)
    if any(job == "entity_settle" for job, _ in stages):
        tags["pssync/billing"] = "inline"  # billed by this sequence of runs: the sensors leave the date alone
    results = []
    for job, keys in stages:
        if results and not results[-1].success:
            break  # fail closed: billing never runs on a recon that failed, nor the firm view on a failed billing
        partition, run_tags = as_of.isoformat(), tags
        if job == "entity_settle":
            if not register_entities(where, as_of, settings.warehouse):
                continue  # no legal entity bills on the date
            from assets.partitions import every_entity_of_date, legal_entities

            # one run of every entity of the date (a partition range): entities one after another in its step
            every = every_entity_of_date(as_of.isoformat(), where.get_dynamic_partitions(legal_entities.name))
            partition, run_tags = None, {**tags, **every}
        results.append(_run_one(where, defs, job, partition, keys, run_config, raise_on_error, run_tags))
    return DateRuns(results, where)


def stages_of(graph, job_name: str, selection: str | None) -> list[tuple[str, list | None]]:
    """The runs, in order, that `run_pipeline` starts: (job, asset keys or None for the whole job). A job of the date
    stage (jobs.STAGED) is followed by the other stages' part of its selection: its legal entities' reconciliation
    and billing, then the firm-wide view (jobs.DATE_STAGES); a selection is split along the same stages; any other
    job runs alone."""
    from dagster_project.jobs import DATE_STAGES, STAGED

    if selection:
        parts = selection.split(",") if "," in selection else [selection]
        keys = set(dg.AssetSelection.from_coercible([p.strip() for p in parts]).resolve(graph))
        split = [(job, sorted(keys & set(sel.resolve(graph)))) for job, sel in DATE_STAGES]
        return [("full_pipeline" if job == "date" else job, ks) for job, ks in split if ks]
    if job_name not in STAGED:
        return [(job_name, None)]
    wanted = set(STAGED[job_name].resolve(graph))
    stages = []
    for job, sel in DATE_STAGES:
        stage = set(sel.resolve(graph))
        if job == "date":
            stages.append((job_name, None))
        elif wanted & stage:  # the whole job, or the part of it the date's job asks for (no billing after hourly)
            stages.append((job, None if stage <= wanted else sorted(wanted & stage)))
    return stages


def entities_of_date(warehouse: str, as_of: date) -> list[str]:
    """The legal entities that bill on ``as_of`` (sql/billing/billable_entities.sql), read from the warehouse."""
    from assets.billing.emit import billable_entities
    from resources.warehouse import open_warehouse

    con = open_warehouse(warehouse, read_only=True)
    try:
        return billable_entities(con, as_of)
    finally:
        con.close()


def register_entities(where: dg.DagsterInstance, as_of: date, warehouse: str) -> list[str]:
    """The legal entities that bill on ``as_of``, added to the instance's legal_entity partitions."""
    from assets.partitions import legal_entities

    entities = entities_of_date(warehouse, as_of)
    known = set(where.get_dynamic_partitions(legal_entities.name))
    if set(entities) - known:
        where.add_dynamic_partitions(legal_entities.name, sorted(set(entities) - known))
    return entities


def _run_one(where, defs, job_name: str, partition_key, keys, run_config: dict, raise_on_error: bool, tags: dict):
    """One run of a partition key, or of the partition range its ``tags`` name."""
    if not where.is_ephemeral:  # recorded in the instance: the run belongs to the code location, as if launched there
        return _run_in_code_location(where, job_name, partition_key, keys, run_config, raise_on_error, tags)
    return defs.resolve_job_def(job_name).execute_in_process(
        instance=where,
        asset_selection=keys,
        raise_on_error=raise_on_error,
        partition_key=partition_key,
        tags=tags,
        run_config=run_config,
    )


def _run_in_code_location(
    where: dg.DagsterInstance, job_name: str, partition_key, keys, run_config: dict, raise_on_error: bool, tags: dict
):
    """Execute in this process a run recorded with the origin of the ``pssync`` code location of workspace.yaml,
    so that the UI shows it with that location's jobs (Overview timeline, job pages) and not as an ad-hoc run."""
    import sys

    from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import (
        LoadableTargetOrigin,
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )

    root = str(Path(__file__).resolve().parent.parent)
    module = "dagster_project.definitions"
    # Dagster keeps the last reconstructed job per process (lru_cache on equal origins): a run with other settings in
    # the same process must not inherit the resources of the one before
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    # build_definitions, not the module's `defs`: the resources follow the settings of this run
    recon_job = ReconstructableRepository.for_module(
        module, "build_definitions", working_directory=root
    ).get_reconstructable_job(job_name)
    if keys:
        recon_job = recon_job.get_subset(asset_selection=set(keys))
    job_def = recon_job.get_definition()
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable, module_name=module, working_directory=root
        ),
        location_name="pssync",
    )
    origin = RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, "__repository__"), job_name=job_name)
    tags = {
        **(job_def.get_tags_for_partition_key(partition_key, selected_asset_keys=None) if partition_key else {}),
        **tags,
    }
    create_pools(where, job_def)
    run = where.create_run_for_job(
        job_def=job_def,
        run_config=run_config,
        tags=tags,
        asset_selection=set(keys) if keys else None,
        remote_job_origin=origin,
        job_code_origin=recon_job.get_python_origin(),
    )
    try:
        return execute_run(recon_job, run, where, raise_on_error=raise_on_error)
    finally:
        # Dagster gives a finished run's pool slots back only from the daemon, and only when
        # run_monitoring.free_slots_after_run_end_seconds is set: a run that failed here would otherwise keep the
        # slots of the steps it had claimed, and every later run's steps of those tables would wait on them forever
        if where.event_log_storage.supports_global_concurrency_limits:
            where.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def create_pools(where: dg.DagsterInstance, *job_defs) -> list[str]:
    """Create, before the run starts, the pools its steps will claim (one per table written, assets/common.py).
    Dagster creates a pool when a step first claims it, and two runs doing that at once on PostgreSQL fail one of
    them ("duplicate key value violates unique constraint concurrency_limits_concurrency_key_key": its insert's
    error aborts the transaction it then updates in); seen with a backfill and an hourly run on a new instance.
    Returns the pools this call created."""
    storage = where.event_log_storage
    if not limits_pools(where):
        return []
    wanted = {
        node.definition.pool
        for job_def in job_defs
        for node in job_def.graph.nodes
        if getattr(node.definition, "pool", None)
    }
    created = []
    for pool in sorted(wanted - {p.name for p in storage.get_pool_limits()}):
        try:
            storage.initialize_concurrency_limit_to_default(pool)
            created.append(pool)
        except Exception:  # noqa: BLE001 - another run created it at the same moment; anything else is raised
            if pool not in {p.name for p in storage.get_pool_limits()}:
                raise
    return created


def limits_pools(where: dg.DagsterInstance) -> bool:
    """Whether the instance gives pools a limit (the production one: one step per pool); the embedded one gives
    none, and runs one run at a time instead."""
    return where.event_log_storage.supports_global_concurrency_limits and (
        where.global_op_concurrency_default_limit is not None
    )


def pools_message(created: list[str]) -> str:
    """What creating the pools did, in one line (the pools sensor's tick, `pssync pools`)."""
    return f"created {len(created)} pool(s): {', '.join(created)}" if created else "every pool exists"


def instance_of(context) -> dg.DagsterInstance | None:
    """The instance of a schedule's or sensor's evaluation; None for a context built without one (a test's)."""
    try:
        return context.instance
    except dg.DagsterInvariantViolationError:
        return None


class WarehouseBusy(RuntimeError):
    """Another pssync run holds the warehouse."""


@contextmanager
def warehouse_lock(path: str, as_of: date | None, wait: bool = False, holder: str = "pssync run"):
    """One writing run per warehouse. A second run leaves at once naming the run that holds it (or, with
    ``wait``, waits for it): no step of it ever meets DuckDB's file lock half-way through. A shared warehouse
    takes no lock: its catalog's transactions keep concurrent runs apart (docs/deployment.md)."""
    from resources.warehouse import is_shared

    if is_shared(path):
        yield
        return
    target = Path(path).resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fh = open(target.with_name(target.name + ".lock"), "a+", encoding="utf-8")
    except OSError:  # the warehouse cannot be written there at all: the settings check says so, naming the setting
        yield
        return
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another pssync run"
            raise WarehouseBusy(f"warehouse {target} is in use by {holder}; wait for it or run with --wait") from None
        fh.seek(0)
        fh.truncate()
        label = f"{holder} as-of {as_of}" if as_of else holder  # compaction holds the warehouse for no date
        fh.write(f"{label} (pid {os.getpid()}, started {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%SZ})")
        fh.flush()
        yield
    finally:
        fh.close()  # closing releases the lock


def _error_classes(error) -> str:
    names = []
    while error is not None:
        names.append(error.cls_name or "")
        error = getattr(error, "cause", None)
    return " ".join(names)


def _root_message(error) -> str:
    """The error our code raised in a failed step (below Dagster's wrappers), first line, without the trace
    or the exception's module path."""
    while (error.cls_name or "").startswith("Dagster") and getattr(error, "cause", None) is not None:
        error = error.cause
    text = (error.message or "").strip()
    first = text.splitlines()[0] if text else error.cls_name or "unknown error"
    return re.sub(r"^(?:[\w]+\.)+(\w+: )", r"\1", first)


def was_interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether a step ended because the run was asked to stop (SIGTERM, Ctrl-C)."""
    return any(
        "DagsterExecutionInterruptedError" in _error_classes(e.event_specific_data.error)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    )


def _run_error(result) -> str | None:
    """The error that ended a run outside any step (the executor's, such as a Celery result that could not be
    fetched), first line, or None."""
    for e in result.all_events:
        if e.event_type_value in ("ENGINE_EVENT", "RUN_FAILURE"):
            error = getattr(e.event_specific_data, "error", None)
            if error is not None:
                return _root_message(error)
    return None


def _unfinished_steps(result) -> tuple[list[str], bool]:
    """The steps that started and never ended, and whether any step reported success."""
    started, ended, succeeded = [], set(), False
    for e in result.all_events:
        if e.event_type_value == "STEP_START":
            started.append(e.step_key)
        elif e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            ended.add(e.step_key)
            succeeded = succeeded or e.event_type_value == "STEP_SUCCESS"
    return [s for s in started if s not in ended], succeeded


def _memory_hint(error) -> str:
    """What to change when a step ran out of DuckDB's memory cap: the setting, as it is in force."""
    if "OutOfMemoryException" not in _error_classes(error):
        return ""
    from resources.settings import current

    limit = current().duckdb_memory_limit
    return f" (DuckDB's cap PSSYNC_DUCKDB_MEMORY_LIMIT={limit} is too small for this step: raise it; operations.md)"


def verdict(result: dg.ExecuteInProcessResult, as_of: date, warehouse: str) -> tuple[str, int]:
    """One line that says how the run ended, and the exit code: 0 success, 3 success with billing held by a
    faulty input, 1 failure (the failed step or check and its reason)."""
    head = f"pssync run {as_of}"
    failed_checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.event_specific_data.passed
        and e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR
    ]
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    if failures:
        first = failures[0]
        blocking = [c for c in failed_checks if c.asset_key.to_user_string().replace("/", "__") == first.step_key]
        if not blocking and "AssetCheckFailed" in _error_classes(first.event_specific_data.error):
            blocking = failed_checks
        if blocking:
            c = blocking[0]
            reason = c.description or "; ".join(str(v.value) for v in c.metadata.values())
            why = f"check {c.asset_key.to_user_string()}:{c.check_name} failed: {reason}"
        else:
            error = first.event_specific_data.error
            why = f"{first.step_key.replace('__', '/')} failed: {_root_message(error)}{_memory_hint(error)}"
        more = f" (and {len(failures) - 1} more step(s))" if len(failures) > 1 else ""
        return f"{head}: FAILED — {why}{more}", 1
    unfinished, any_success = _unfinished_steps(result)
    if unfinished or not any_success or not result.success:
        # no step failed, yet the run did not end well: a step whose process died, or steps sent to Celery workers
        # that never reported back
        named = ", ".join(s.replace("__", "/") for s in unfinished[:3]) or "no step reported success"
        error = _run_error(result)
        why = f": {error}" if error else ""
        return f"{head}: FAILED — the run did not finish: {named}{why} (see the run in the Dagster UI)", 1

    from resources.warehouse import open_warehouse

    con = open_warehouse(warehouse, read_only=True)
    try:
        from resources.warehouse import table_exists

        batches = (
            con.execute(
                """SELECT count(*), coalesce(sum(line_count), 0), currency, sum(net_amount)
                                 FROM billing.batches WHERE as_of_date = ? GROUP BY currency ORDER BY currency""",
                [as_of],
            ).fetchall()
            if table_exists(con, "billing.batches")
            else []
        )
        holds = (
            con.execute(
                """
            SELECT coalesce(file || CASE WHEN row_number IS NOT NULL OR file <> record_key THEN ' record ' || record_key
                                         ELSE '' END, message) || ' (' || rule || ')',
                   count(DISTINCT coalesce(scope_key, '*'))
            FROM recon.billing_holds WHERE as_of_date = ? GROUP BY ALL ORDER BY 1""",
                [as_of],
            ).fetchall()
            if table_exists(con, "recon.billing_holds")
            else []
        )
    finally:
        con.close()
    n = sum(b[0] for b in batches)
    lines = sum(b[1] for b in batches)
    money = ", ".join(f"{b[3]:,.2f} {b[2]}" for b in batches) or "nothing to bill"
    line = f"{head}: OK — {n} batch(es), {lines:,} line(s), net {money}"
    if holds:
        named = ", ".join(h for h, _ in holds[:3]) + (f" and {len(holds) - 3} more" if len(holds) > 3 else "")
        return f"{line}; BILLING HELD by {len(holds)} faulty input(s): {named} (see recon.billing_holds)", 3
    return line, 0


def dagster_instance_problem() -> str | None:
    """Why the Dagster instance of ``$DAGSTER_HOME`` cannot be opened, or None when it opens or none is set (an
    ephemeral instance): see `open_dagster_instance`."""
    where, why = open_dagster_instance()
    if where is not None:
        where.dispose()
    return why


def open_dagster_instance() -> tuple[dg.DagsterInstance | None, str | None]:
    """The Dagster instance of ``$DAGSTER_HOME``, or why it cannot be opened (a wrong dagster.yaml, a variable it
    names unset, its database unreachable) in one line naming the root cause; (None, None) when none is set."""
    import logging

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return None, None
    unreachable = _dagster_database_problem(Path(home) / "dagster.yaml")
    if unreachable:
        return None, f"DAGSTER_HOME={home}: the Dagster instance cannot be opened: {unreachable}"
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # Dagster logs a warning at each retry of its database connection
    try:
        return dg.DagsterInstance.get(), None
    except Exception as exc:  # noqa: BLE001 - reported as the setting to fix
        cause = exc
        while cause.__cause__ is not None or cause.__context__ is not None:
            cause = cause.__cause__ or cause.__context__
        text = (str(cause).strip() or str(exc).strip() or type(exc).__name__).splitlines()[0]
        # a config error's first line is Dagster's schema; the reason is in the error it wraps: an unset variable
        wrapped = re.search(r"^[\w.]*(?:Error|Exception): (.+?\.)(?: |$)", str(cause), re.MULTILINE)
        if wrapped and text.startswith("Errors whilst loading configuration"):
            text = wrapped.group(1)
        if isinstance(cause, ModuleNotFoundError):  # the production dagster.yaml names dagster-postgres
            text += ": install pssync[shared] (docs/deployment.md)"
        return None, f"DAGSTER_HOME={home}: the Dagster instance cannot be opened: {text}"
    finally:
        logging.disable(previous)


def _dagster_database_problem(config: Path) -> str | None:
    """Why the PostgreSQL database a dagster.yaml keeps its storage in (``storage.postgres.postgres_url``, given or
    read from a variable) refuses one connection, or None (it answers, or the file says something else: Dagster then
    opens it and says what is wrong). Dagster retries each of its three storages for about 6 s before it gives up;
    one attempt with a 5 s timeout says the same at once."""
    import yaml

    try:
        storage = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("storage") or {}
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return None
    url = (storage.get("postgres") or {}).get("postgres_url") if isinstance(storage, dict) else None
    if isinstance(url, dict):
        url = os.environ.get(str(url.get("env")))
    if not isinstance(url, str) or not url.strip():
        return None
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    try:
        engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot read, a driver not installed: Dagster says which
        return None
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as exc:
        text = str(exc.orig or exc).strip()
        return text.splitlines()[0] if text else type(exc.orig or exc).__name__
    except Exception:  # noqa: BLE001 - anything else is Dagster's to report, in its own words
        return None
    finally:
        engine.dispose()


def _shared_problems(settings) -> list[str]:
    """What a run on a shared warehouse needs beyond the embedded one: the catalog reachable, and its own places
    for what the embedded mode keeps beside the warehouse file (outputs, data files, the workbench's store)."""
    from resources.warehouse import WarehouseError, open_warehouse

    problems = []
    for name, value in (
        ("PSSYNC_OUTPUT_DIR (--output-dir)", settings.output_dir),
        ("PSSYNC_WORKFLOW_URL (--workflow-url)", settings.workflow_url),
    ):
        if not value:
            problems.append(f"{name}: required with a shared warehouse (PSSYNC_WAREHOUSE={settings.warehouse})")
    try:
        open_warehouse(settings.warehouse, data_path=settings.warehouse_data).close()
    except WarehouseError as exc:
        problems.append(str(exc))
    return problems


def _writable(path: Path) -> str | None:
    """Why ``path`` (a file, or a folder when it has no suffix) could not be written, or None; creates nothing."""
    target = path.resolve()
    if path.suffix and target.exists() and not os.access(target, os.W_OK):
        return f"{target} is read-only"
    folder = target if not path.suffix else target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"cannot create {target}: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK):
        return f"cannot write in {folder} (read-only)"
    return None


def newest_source_date(landing: Path) -> date | None:
    """The latest date a landed file's name carries: how far the sources reach."""
    from assets.extract.parse import file_date
    from assets.extract.specs import ALL

    dates = [
        file_date(spec, path.relative_to(landing).as_posix())
        for spec in ALL
        if spec.kind != "psa_table"
        for path in landing.glob(spec.pattern)
    ]
    return max((d for d in dates if d is not None), default=None)


def _workflow_problem(url: str) -> str | None:
    """Why the workbench's store cannot be opened (the run registers batches and exceptions in it), or None."""
    import sqlalchemy as sa

    if url.startswith("sqlite:///"):
        return _writable(Path(url.removeprefix("sqlite:///")))
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 10} if "postgresql" in url else {})
        try:
            with engine.connect():
                return None
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - reported as the setting to fix
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        return f"cannot open {shown}: {str(exc).splitlines()[0]}"


def as_of_problem(as_of: date, option: str = "--as-of") -> str | None:
    """Why ``as_of`` is not an as-of date a run can settle (before the first partition, or in the future)."""
    from assets.partitions import PARTITION_START

    start, today = date.fromisoformat(PARTITION_START), datetime.now(timezone.utc).date()
    if start <= as_of <= today:
        return None
    return f"{option} {as_of} is outside the as-of dates {start}..{today} (PSSYNC_PARTITION_START sets the first)"


def preflight(as_of: date, as_of_defaulted: bool = False) -> list[str]:
    """The settings a run needs, checked before any step: one line per problem, naming the setting to fix."""
    from resources.psa import PsaDatabase
    from resources.settings import current
    from resources.warehouse import is_shared

    settings = current()
    problems = [p for p in [as_of_problem(as_of)] if p]
    landing = Path(settings.landing_dir)
    if not landing.is_dir():
        problems.append(f"PSSYNC_LANDING_DIR (--landing-dir): {landing} is not a folder")
    writable = [("PSSYNC_OUTPUT_DIR", "--output-dir", Path(settings.outputs) / "x")]
    if is_shared(settings.warehouse):
        problems += _shared_problems(settings)
    else:
        writable.insert(0, ("PSSYNC_WAREHOUSE", "--warehouse", Path(settings.warehouse)))
    for name, option, path in writable:
        why = _writable(path)
        if why:
            problems.append(f"{name} ({option}): {why}")
    if landing.is_dir() or settings.psa_url:
        psa = PsaDatabase(url=settings.psa, retries=1, timeout_seconds=min(settings.psa_timeout, 30))
        try:
            psa.ping()
        except Exception as exc:  # noqa: BLE001 - reported as the setting to fix
            problems.append(f"PSSYNC_PSA_URL (--psa-url): {str(exc).splitlines()[0]}")
    why = _workflow_problem(settings.workflow_url) if settings.workflow_url else None  # default: beside the warehouse
    if why:
        problems.append(f"PSSYNC_WORKFLOW_URL (--workflow-url): {why}")
    why = dagster_instance_problem()
    if why:
        problems.append(why)
    if as_of_defaulted and landing.is_dir():
        newest = newest_source_date(landing)
        if newest is not None and (as_of - newest).days > 7:
            problems.append(
                f"--as-of defaults to yesterday ({as_of}) but the newest source file is from {newest}: "
                f"pass --as-of to say which business date to settle"
            )
    return problems
