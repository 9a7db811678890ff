"""great-expectations 1.x behind a resource of our own: suites run on pandas frames, Data Docs as HTML.

GX 1.x has no Dagster integration and no polars or DuckDB support, so the marts are handed over as
pandas frames (decimals as floats: the checks are ranges and tie-outs, not money arithmetic).
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from resources.outputs import write_atomically
from resources.quality_views import site_config

_CONTEXTS: dict[str, tuple[tuple | None, object]] = {}
"""Data Docs root -> (the stamp of its project file when last used, its GX context)."""


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _keep_variables_only(path: Path) -> None:
    """GX reads ``config_variables.yml`` again for each of its settings it looks up, about 50 times a suite, and the
    file it writes is mostly comments that its YAML parser scans each time: only the variables are kept."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return
    lines = text.splitlines(keepends=True)
    kept = "".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if kept != text:
        write_atomically(path, kept.encode("utf-8"))


@dataclass
class SuiteOutcome:
    suite: str
    success: bool
    failed: list[str]
    evaluated: int
    docs_index: str


class DataQuality(dg.ConfigurableResource):
    """Runs expectation suites and keeps a Data Docs site under ``<PSSYNC_OUTPUT_DIR>/data_quality``."""

    output_dir: str

    @property
    def root(self) -> Path:
        return Path(self.output_dir) / "data_quality"

    @property
    def _config(self) -> Path:
        return self.root / "gx" / "great_expectations.yml"

    def _context(self):
        """The GX file context of the Data Docs root: opened once per process (it costs about 0.2 s a suite) and
        opened again when its project file is no longer as this process left it (another process, or a kill)."""
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        cached = _CONTEXTS.get(str(self.root))
        if cached and cached[0] is not None and cached[0] == _stamp(self._config):
            return cached[1]
        import great_expectations as gx  # 2-3 s to import: paid only by a process that runs a suite

        self.root.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(self.root))

        context.variables.data_docs_sites = site_config()
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig  # GX: imported late

            context.variables.progress_bars = ProgressBarsConfig(globally=False)
        except Exception:
            pass
        context.variables.save()
        _keep_variables_only(self.root / "gx" / "uncommitted" / "config_variables.yml")
        _CONTEXTS[str(self.root)] = (None, context)
        return context

    def _keep(self, context) -> None:
        """Remember ``context`` as current with the project file as this run left it (the last few roots only)."""
        _CONTEXTS.pop(str(self.root), None)
        _CONTEXTS[str(self.root)] = (_stamp(self._config), context)
        while len(_CONTEXTS) > 4:
            _CONTEXTS.pop(next(iter(_CONTEXTS)))

    def _prune(self, suite_name: str) -> None:
        """Keep only the newest result of a suite: Data Docs re-render every stored result on each update."""

        for folder in (
            self.root / "gx" / "uncommitted" / "validations" / suite_name,
            self.root / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations" / suite_name,
        ):
            if folder.exists():
                shutil.rmtree(folder)

    def run(self, suite_name: str, frame, expectations: list, as_of=None) -> SuiteOutcome:
        """Validate ``frame`` (pandas) against ``expectations`` and refresh the Data Docs site. GX's own files
        (project config, suites, checkpoints) are derived state, re-declared on every run: when a crash left
        them unreadable (a 0-byte ``great_expectations.yml`` after a kill), they are rebuilt and the run retried
        once, so no crash can stop later runs."""

        try:
            outcome = self._run(suite_name, frame, expectations, as_of)
        except Exception:
            logging.getLogger(__name__).warning("great-expectations state under %s unreadable: rebuilt", self.root)
            _CONTEXTS.pop(str(self.root), None)
            shutil.rmtree(self.root / "gx", ignore_errors=True)
            outcome = self._run(suite_name, frame, expectations, as_of)
        self._record(outcome, as_of)
        return outcome

    def _record(self, outcome: SuiteOutcome, as_of) -> None:
        """Our own index of the Data Docs: every suite's latest result, with the as-of date it checked, as a
        static page that needs no network (GX's own index builds its list with scripts from public CDNs)."""

        store = self.root / "results.json"
        try:
            results = json.loads(store.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            results = {}
        results[outcome.suite] = {
            "as_of": str(as_of) if as_of else None,
            "success": outcome.success,
            "evaluated": outcome.evaluated,
            "failed": outcome.failed,
            "checked_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        write_atomically(store, (json.dumps(results, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        write_atomically(self.root / "index.html", _index_page(results).encode("utf-8"))
        outcome.docs_index = str(self.root / "index.html")

    def _run(self, suite_name: str, frame, expectations: list, as_of) -> SuiteOutcome:
        import great_expectations as gx  # imported late, as above

        self._prune(suite_name)
        context = self._context()
        try:  # adding it again rewrites the project file: about 30 ms a suite
            source = context.data_sources.get("pssync")
        except KeyError:
            source = context.data_sources.add_pandas(name="pssync")
        try:
            asset = source.get_asset(suite_name)
        except LookupError:
            asset = source.add_dataframe_asset(name=suite_name)
        try:
            batch = asset.get_batch_definition("whole")
        except (KeyError, LookupError):
            batch = asset.add_batch_definition_whole_dataframe("whole")
        suite = context.suites.add_or_update(gx.ExpectationSuite(name=suite_name, expectations=expectations))
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=suite_name,
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            )
        )
        from great_expectations.core.run_identifier import RunIdentifier  # GX: imported late

        result = checkpoint.run(
            batch_parameters={"dataframe": frame},
            run_id=RunIdentifier(run_name=f"as-of {as_of}" if as_of else suite_name),
        )
        (validation,) = result.run_results.values()  # one suite per checkpoint
        failed = [
            f"{r.expectation_config.type}"
            f"({r.expectation_config.kwargs.get('column') or r.expectation_config.kwargs.get('column_list')})"
            for r in validation.results
            if not r.success
        ]
        self._keep(context)
        index = self.root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
        return SuiteOutcome(suite_name, bool(result.success), failed, len(validation.results), str(index))


def _index_page(results: dict) -> str:
    """The Data Docs index: one row per suite, newest result, failed expectations spelled out."""
    rows = []
    for suite, r in sorted(results.items()):
        state = "passed" if r["success"] else "FAILED"
        failed = ", ".join(r["failed"]) or "none"
        rows.append(
            f"<tr class='{state.lower()}'><td>{html.escape(suite)}</td><td>{html.escape(str(r['as_of']))}</td>"
            f"<td>{state}</td><td>{r['evaluated']}</td><td>{html.escape(failed)}</td>"
            f"<td>{html.escape(r['checked_at'])}</td></tr>"
        )
    css = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328}table{border-collapse:collapse;"
        "font-size:14px}td,th{border-bottom:1px solid #d0d7de;padding:4px 10px;text-align:left}"
        "tr.failed td{color:#cf222e;font-weight:600}"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>pssync data quality</title>"
        f"<style>{css}</style></head><body><h1>pssync data quality: expectation suites</h1>"
        "<p>The latest result of each great-expectations suite over the published tables, with the as-of date "
        "it checked. GX's detailed pages are under <code>gx/uncommitted/data_docs/local_site/</code>.</p>"
        "<table id='suites'><thead><tr><th>suite</th><th>as-of date</th><th>result</th><th>expectations</th>"
        "<th>failed</th><th>checked</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></body></html>\n"
    )
