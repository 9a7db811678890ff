"""Every setting of pssync in one object, ``PssyncSettings``.

Each field is read from the environment variable ``PSSYNC_<FIELD>`` (``reporting_currency`` from
``PSSYNC_REPORTING_CURRENCY``), else the embedded default of ``make demo``. The command line builds it with its
options on top (``--warehouse`` wins over ``PSSYNC_WAREHOUSE``); the code location builds it from the environment
alone. The resources are made from it, the assets and sensors receive it as the ``settings`` resource, and every
run carries the settings it used as ``pssync/<field>`` tags (passwords never: they come from the environment at the
moment of connecting, see ``secret``).
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import sqlalchemy as sa

from resources.sla import Sla
from resources.warehouse import is_shared

PREFIX = "PSSYNC_"
SECRETS = (
    "PSSYNC_PSA_PASSWORD",
    "PSSYNC_ERP_STAGING_PASSWORD",
    "PSSYNC_WEBHOOK_SECRET",  # signs every webhook delivery (HMAC-SHA256)
    "PSSYNC_WEB_SECRET",  # signs the workbench's session cookies
)
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
EXECUTORS = ("in_process", "celery")  # where a run's steps execute (dagster_project/executors.py builds each)
MAX_DAYS = 3650  # ten years: a longer span is a typo, not a policy
MAX_AMOUNT = Decimal("999999999999.99")  # the largest amount a setting or policy takes: DECIMAL(18, 2) with room
# the PSSYNC_* variables read besides the settings and the secrets: who acts on the command line, a new user's
# password, the production Dagster instance's database (dagster_home/production/dagster.yaml)
OTHER_VARIABLES = ("PSSYNC_PASSWORD", "PSSYNC_TOKEN", "PSSYNC_NEW_PASSWORD", "PSSYNC_DAGSTER_PG_URL")
TEST_PREFIX = "PSSYNC_TEST_"  # the test suite's own, such as PSSYNC_TEST_PG_URL (.ci/run)
# variables that are no longer read: set, they stop the command rather than be silently ignored
RETIRED = {
    "PSSYNC_DUAL_APPROVAL_ABOVE": "no longer read: the dual-approval threshold lives in the workflow store, changed "
    "by an admin (pssync policy set dual_approval_above AMOUNT --as ADMIN)",
}


class SettingsError(ValueError):
    """A setting whose value cannot be used; the message names the variable, the value and the rule."""


class PssyncSettings(dg.ConfigurableResource):
    """The settings of one pssync run: where the sources land, the warehouse and the outputs, the source databases,
    the reporting currency and the thresholds of the business rules (docs/operations.md lists them)."""

    landing_dir: str = "demo/landing"
    warehouse: str = "demo/warehouse.duckdb"  # or a shared DuckLake catalog: ducklake:postgres:dbname=... host=...
    warehouse_data: str = ""  # the shared warehouse's data files (a folder every worker reaches); unused when embedded
    output_dir: str = ""  # empty: the folder `output` beside the warehouse, so its files travel with it
    psa_url: str = ""  # empty: sqlite:///<landing_dir>/psa/psa.db
    erp_staging_url: str = ""  # empty: no ERP staging table
    reporting_currency: str = "USD"
    staffing_threshold: float = 50  # win probability (percent) from which an opportunity counts as staffing demand
    quarantine_max_share: float = 0.01  # share of a table's rows in quarantine from which its contract check fails
    psa_timeout: float = 300  # seconds for connecting to and for each statement on the PSA database
    duckdb_memory_limit: str = "4GB"
    partition_start: str = "2025-10-01"  # first as-of date of the partitions (read when the code location loads)
    alert_webhook_url: str = ""  # where failed runs are posted (empty: the alert is only recorded)
    log_level: str = "CRITICAL"  # Dagster's own log on the terminal; `pssync run --verbose` sets INFO
    workflow_url: str = ""  # the workbench's store (workbench/store.py); empty: sqlite workflow.db beside the warehouse
    # days an owner has to act on an exception before it is overdue and escalates (docs/workbench.md)
    exception_sla_days: str = "finance:5,delivery:5,hr:10,integration:3"
    # AMOUNT:DAYS: an exception with at least AMOUNT at risk (its currency) is due within DAYS whoever owns it
    exception_sla_urgent: str = "10000:2"
    recon_incremental: bool = True  # a rerun of a reconciled date recomputes only what changed (false: all of it)
    webhook_urls: str = ""  # business events POSTed here (comma-separated URLs; docs/workbench.md)
    nats_url: str = ""  # business events published to NATS JetStream here, such as nats://127.0.0.1:4222
    nats_stream: str = "PSSYNC_EVENTS"
    event_max_attempts: int = 8  # deliveries of an event to a sink before it is dead-lettered
    executor: str = "in_process"  # or celery: steps run on Celery workers (a shared warehouse only)
    celery_broker: str = "redis://127.0.0.1:6379/0"  # or amqp://guest:guest@127.0.0.1:5672// (RabbitMQ)
    celery_backend: str = "redis://127.0.0.1:6379/1"  # where workers put the steps' results

    @classmethod
    def from_env(cls, overrides: dict | None = None, defaults: dict | None = None) -> PssyncSettings:
        """Settings from, in order of precedence: ``overrides`` (command-line options), the ``PSSYNC_*``
        environment, ``defaults`` (the demo's folders), the embedded defaults. Raises ``SettingsError``."""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            for source in (overrides or {}, {name: os.environ.get(PREFIX + name.upper())}, defaults or {}):
                if source.get(name) not in (None, ""):
                    values[name] = source[name]
                    break
        try:
            made = cls(**values)
        except Exception as exc:  # pydantic's ValidationError: name the variable that fed the field
            errors: list[dict[str, Any]] = getattr(exc, "errors", lambda: [])()
            if not errors:
                raise
            e = errors[0]
            name = str(e["loc"][-1]) if e.get("loc") else "?"
            raise SettingsError(f"{PREFIX}{name.upper()}={e.get('input')!r}: {e['msg']}") from None
        made.check()
        return made

    def check(self) -> None:
        def bad(name: str, rule: str):
            value = getattr(self, name)
            raise SettingsError(f"{PREFIX}{name.upper()}={value!r}: {rule}")

        if not re.fullmatch(r"[A-Z]{3}", self.reporting_currency):
            bad("reporting_currency", "not a three-letter ISO currency code such as USD")
        if not 0 <= self.staffing_threshold <= 100:
            bad("staffing_threshold", "a win probability in percent, 0 to 100")
        if not 0 <= self.quarantine_max_share <= 1:
            bad("quarantine_max_share", "a share between 0 and 1")
        if self.psa_timeout <= 0:
            bad("psa_timeout", "seconds, more than 0")
        if self.log_level.upper() not in LOG_LEVELS:
            bad("log_level", f"one of {', '.join(LOG_LEVELS)}")
        try:
            date.fromisoformat(self.partition_start)
        except ValueError:
            bad("partition_start", "not a YYYY-MM-DD date")
        try:
            self.sla()
        except SettingsError as exc:
            bad(*exc.args)
        if not math.isfinite(self.psa_timeout) or self.psa_timeout > 86_400:
            bad("psa_timeout", "seconds, more than 0 and at most 86400 (a day)")
        if not 1 <= self.event_max_attempts <= 100:
            bad("event_max_attempts", "from 1 to 100")
        for name, rule in RETIRED.items():
            if os.environ.get(name):
                raise SettingsError(f"{name}={os.environ[name]!r}: {rule}")
        unknown = unknown_variables()
        if unknown:
            raise SettingsError(unknown[0])
        refused = _memory_cap_refused(self.duckdb_memory_limit)
        if refused:
            bad("duckdb_memory_limit", f"not a memory cap DuckDB can work in, such as 4GB ({refused})")
        for url in filter(None, (u.strip() for u in self.webhook_urls.split(","))):
            if not re.match(r"https?://[^/\s]+", url):
                bad("webhook_urls", f"{url!r} is not an http(s) URL")
        if self.nats_url and not re.match(r"(nats|tls)://[^/\s]+", self.nats_url):
            bad("nats_url", "not a NATS URL such as nats://127.0.0.1:4222")

        if self.executor not in EXECUTORS:
            bad("executor", f"one of {', '.join(EXECUTORS)}")
        if self.executor == "celery" and not is_shared(self.warehouse):
            bad(
                "executor",
                "celery workers are separate processes: they need a shared warehouse (PSSYNC_WAREHOUSE=ducklake:...)",
            )
        for name in ("celery_broker", "celery_backend"):
            if not re.match(r"(redis|rediss|amqp|amqps|pyamqp|rpc)://", getattr(self, name)):
                bad(name, "not a Celery URL such as redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//")
        if self.workflow_url:
            try:
                sa.engine.make_url(self.workflow_url)
            except sa.exc.ArgumentError:
                bad("workflow_url", "not a database URL such as postgresql+psycopg://user@host/db or sqlite:///path")

    @property
    def outputs(self) -> str:
        return self.output_dir or str(Path(self.warehouse).parent / "output")

    def sla(self):
        """When an exception is due (``PSSYNC_EXCEPTION_SLA_DAYS``, ``PSSYNC_EXCEPTION_SLA_URGENT``)."""

        try:
            pairs = [p.split(":") for p in self.exception_sla_days.split(",") if p.strip()]
            days = {owner.strip(): int(d) for owner, d in pairs}
            if any(not 0 <= d <= MAX_DAYS for d in days.values()):
                raise ValueError("days out of range")
        except ValueError:
            raise SettingsError(
                "exception_sla_days", f"owner:days pairs (0 to {MAX_DAYS} days) separated by commas, such as finance:5"
            ) from None
        amount = urgent = None
        if self.exception_sla_urgent.strip().lower() != "off":
            try:
                a, d = self.exception_sla_urgent.split(":")
                amount, urgent = Decimal(a), int(d)
                if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT or not 0 <= urgent <= MAX_DAYS:
                    raise ValueError("negative days")
            except (ValueError, ArithmeticError):
                raise SettingsError("exception_sla_urgent", "AMOUNT:DAYS such as 10000:2, or off") from None
        return Sla(days, amount, urgent)

    @property
    def workflow(self) -> str:
        """The workflow store's URL: ``PSSYNC_WORKFLOW_URL``, else SQLite ``workflow.db`` in the warehouse's folder."""
        return self.workflow_url or f"sqlite:///{Path(self.warehouse).resolve().parent / 'workflow.db'}"

    @property
    def psa(self) -> str:
        return self.psa_url or f"sqlite:///{Path(self.landing_dir).resolve() / 'psa' / 'psa.db'}"

    def as_tags(self, as_of: str | None = None) -> dict[str, str]:
        """The effective settings as run tags (``pssync/<field>``, defaults resolved, passwords in URLs masked),
        with the run's as-of date when it has one."""

        effective = {name: getattr(self, name) for name in type(self).model_fields}
        effective.update(output_dir=self.outputs, psa_url=self.psa, workflow_url=self.workflow)
        tags = {}
        for name, value in effective.items():
            if name.endswith("_url") and value and "://" in value:
                value = sa.engine.make_url(value).render_as_string(hide_password=True)
            tags[f"pssync/{name}"] = str(value)
        if as_of is not None:
            tags["pssync/as_of"] = as_of
        return tags


def unknown_variables() -> list[str]:
    """One line per ``PSSYNC_*`` variable of the environment that pssync does not read (a typo such as
    PSSYNC_REPORTNG_CURRENCY would otherwise leave the default in force without a word), with the nearest name."""
    known = {PREFIX + n.upper() for n in PssyncSettings.model_fields} | {*SECRETS, *OTHER_VARIABLES, *RETIRED}
    lines = []
    for name in sorted(os.environ):
        if name.startswith(PREFIX) and name not in known and not name.startswith(TEST_PREFIX):
            near = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            lines.append(f"{name}: pssync reads no such variable{hint}; unset it or correct its name")
    return lines


@functools.lru_cache(maxsize=8)
def _memory_cap_refused(cap: str) -> str | None:
    """Why DuckDB refuses ``cap`` as its memory limit (its own reading of a size: the cap every warehouse session
    opens with), or None. Once per value and process: a probe session costs about 17 ms."""
    try:
        with duckdb.connect(config={"memory_limit": cap}) as probe:
            probe.execute("SELECT current_setting('memory_limit')")  # allocates: a cap of 0 bytes fails here
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None


_installed: list[PssyncSettings] = []


def current() -> PssyncSettings:
    """The settings in force: those the command line installed (``install``), else the environment's (what the
    code location, its schedules and its sensors use)."""
    return _installed[-1] if _installed else PssyncSettings.from_env()


def install(settings: PssyncSettings) -> PssyncSettings:
    """Make ``settings`` the ones in force in this process (the command line's), until ``uninstall``."""
    _installed[:] = [settings]
    return settings


def uninstall() -> None:
    _installed.clear()


def secret(name: str) -> str | None:
    """A password from the environment (``PSSYNC_PSA_PASSWORD``, ``PSSYNC_ERP_STAGING_PASSWORD``): read when
    connecting, never stored in the settings or a run's tags."""
    assert name in SECRETS, name
    return os.environ.get(name) or None
