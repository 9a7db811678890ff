# One entry point for newcomers: `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the shared warehouse and Celery workers (docs/deployment.md) need DuckDB 1.5 with its DuckLake packages: their own venv
SHARED       := .venv-shared
SHARED_STAMP := $(SHARED)/.installed
DEMO   ?= demo

.PHONY: install demo test test-distributed test-distributed-ci dev bench validate clean browser lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(SHARED_STAMP): pyproject.toml
	test -x $(SHARED)/bin/python || $(PYTHON) -m venv $(SHARED)
	$(SHARED)/bin/python -m pip install --quiet --upgrade pip
	$(SHARED)/bin/python -m pip install --quiet -e '.[dev,shared]'
	touch $(SHARED_STAMP)

# runs on the shared warehouse through two Celery workers against the embedded single-process runs; the tests create
# their PostgreSQL databases, use the machine's Redis (or start redis-server) and start the workers themselves
test-distributed: $(SHARED_STAMP)
	$(SHARED)/bin/python -m pytest -q -p no:cacheprovider --durations=5 tests/distributed $(DISTRIBUTED_ARGS)

# what .ci/run takes of them: all but the tests of many runs (15 minutes here with them, 1.5-3 without)
test-distributed-ci:
	$(MAKE) test-distributed DISTRIBUTED_ARGS='-m "not many_runs"'

demo: $(STAMP)
	$(BIN)/pssync demo --dir $(DEMO)

test: $(STAMP) browser lint
	$(BIN)/python -m pytest -q -x tests/test_smoke.py
	$(BIN)/python -m pytest -n 2 --dist worksteal -q --durations=10 --ignore=tests/test_smoke.py --ignore=tests/distributed

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/sqlfluff lint sql --processes 2 --nocolor

# the page tests look at the report, the Data Docs and the Dagster UI in a real browser: Debian's chromium
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "the page tests need Debian's chromium: sudo apt-get install chromium"; fi; }

dev: $(STAMP)
	@test -f $(DEMO)/warehouse.duckdb || $(BIN)/pssync demo --dir $(DEMO)
	mkdir -p $(DEMO)/dagster_home && cp dagster_home/dagster.yaml $(DEMO)/dagster_home/dagster.yaml
	DAGSTER_HOME=$(abspath $(DEMO))/dagster_home \
	PSSYNC_LANDING_DIR=$(abspath $(DEMO))/landing \
	PSSYNC_WAREHOUSE=$(abspath $(DEMO))/warehouse.duckdb \
	PSSYNC_OUTPUT_DIR=$(abspath $(DEMO))/output \
	$(BIN)/dagster dev -w workspace.yaml

validate: $(STAMP)
	$(BIN)/dagster definitions validate -w workspace.yaml

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(SHARED) $(DEMO) .pytest_cache
