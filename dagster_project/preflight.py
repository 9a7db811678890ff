"""The pre-flight: every setting a run needs, checked before any step, one line per problem naming the setting."""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
import yaml
from sqlalchemy.pool import NullPool

from assets.extract.parse import file_date
from assets.extract.specs import ALL
from assets.partitions import PARTITION_START
from resources.psa import PsaDatabase
from resources.settings import current
from resources.warehouse import WarehouseError, is_shared, open_warehouse


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
    except Exception as exc:
        cause: BaseException = exc
        while (inner := cause.__cause__ or cause.__context__) is not None:
            cause = inner
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
    try:
        storage = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("storage") or {}
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return None
    url = (storage.get("postgres") or {}).get("postgres_url") if isinstance(storage, dict) else None
    if isinstance(url, dict):
        url = os.environ.get(str(url.get("env")))
    if not isinstance(url, str) or not url.strip():
        return None

    try:
        engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    except Exception:
        return None
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as exc:
        text = str(exc.orig or exc).strip()
        return text.splitlines()[0] if text else type(exc.orig or exc).__name__
    except Exception:
        return None
    finally:
        engine.dispose()


def _shared_problems(settings) -> list[str]:
    """What a run on a shared warehouse needs beyond the embedded one: the catalog reachable, and its own places
    for what the embedded mode keeps beside the warehouse file (outputs, data files, the workbench's store)."""
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
    dates = [
        file_date(spec, path.relative_to(landing).as_posix())
        for spec in ALL
        if spec.kind != "psa_table"
        for path in landing.glob(spec.pattern)
    ]
    return max((d for d in dates if d is not None), default=None)


def _workflow_problem(url: str) -> str | None:
    """Why the workbench's store cannot be opened (the run registers batches and exceptions in it), or None."""
    if url.startswith("sqlite:///"):
        return _writable(Path(url.removeprefix("sqlite:///")))
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 10} if "postgresql" in url else {})
        try:
            with engine.connect():
                return None
        finally:
            engine.dispose()
    except Exception as exc:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        return f"cannot open {shown}: {str(exc).splitlines()[0]}"


def as_of_problem(as_of: date, option: str = "--as-of") -> str | None:
    """Why ``as_of`` is not an as-of date a run can settle (before the first partition, or in the future)."""
    start, today = date.fromisoformat(PARTITION_START), datetime.now(UTC).date()
    if start <= as_of <= today:
        return None
    return f"{option} {as_of} is outside the as-of dates {start}..{today} (PSSYNC_PARTITION_START sets the first)"


def preflight(as_of: date, as_of_defaulted: bool = False) -> list[str]:
    """The settings a run needs, checked before any step: one line per problem, naming the setting to fix."""
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
        except Exception as exc:
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
