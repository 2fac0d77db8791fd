# Two commands: `make demo` (the whole stack on this machine) and `make test` (the test suite).
# Each sets up what it needs: a virtualenv in .venv, the package with its test and sandbox extras,
# Prometheus and Alertmanager from Debian.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint demo demo-stop install prometheus alertmanager chromium bench clean cluster cluster-stop cluster-deps test-cluster bench-cluster

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,sandbox]"
	@# the editable install leaves src/*.egg-info on sys.path: Airflow would find the entry points
	@# twice and show "Plugin 'wecube' already registered" as a plugin import error
	rm -rf src/*.egg-info
	touch $(STAMP)

install: $(STAMP)

# Debian's prometheus package (2.42): the binary and promtool; no service is started.
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || \
	  { (apt-get update -q || sudo apt-get update -q) && \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus || \
	     sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus); }

# Debian's prometheus-alertmanager (0.25): the binary prometheus-alertmanager and amtool; no service is started.
alertmanager:
	@command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null || \
	  { (apt-get update -q || sudo apt-get update -q) && \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus-alertmanager || \
	     sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus-alertmanager); }

# Debian's headless Chromium and its driver, for the browser tests of the WeCube UI pages (selenium).
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { (apt-get update -q || sudo apt-get update -q) && \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver || \
	     sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver); }

# Three pytest-xdist workers: the tests under tests/e2e are in two xdist groups (tests/conftest.py),
# tests/e2e/orchestrations (then reconcile, remediation) and the rest, each run in order by one worker under its own `airflow
# standalone` (mostly waiting), while the third runs the CPU-bound unit and integration tests.
# Serially: `make test PYTEST_XDIST=` (or PYTEST_ARGS="-n 0" or PYTEST_ARGS="-p no:xdist", which drops
# these options).
PYTEST_XDIST ?= -n 3 --dist loadgroup

test: install prometheus alertmanager chromium
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest tests \
	  $(if $(findstring no:xdist,$(PYTEST_ARGS)),,$(PYTEST_XDIST)) $(PYTEST_ARGS)

# ruff (configured in pyproject.toml): lint and format check, no changes made
lint: install
	$(BIN)/ruff check src tests dags bench
	$(BIN)/ruff format --check src tests dags bench

demo: install prometheus alertmanager
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

demo-stop:
	bash scripts/demo-stop.sh

bench: install prometheus
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/plugin_call.py

# `make cluster`: docker-compose.yaml's CeleryExecutor layout as processes (PostgreSQL and Redis from
# Debian, two Celery workers; docs/cluster.md). The `cluster` extra: the Celery provider, psycopg2.
CLUSTER_STAMP := $(VENV)/.cluster-installed

$(CLUSTER_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,sandbox,cluster]"
	rm -rf src/*.egg-info
	touch $(CLUSTER_STAMP)

cluster-deps: $(CLUSTER_STAMP) prometheus alertmanager
	@command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { (apt-get update -q || sudo apt-get update -q) && \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql redis-server || \
	     sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql redis-server); }

cluster: cluster-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/cluster.sh

cluster-stop:
	bash scripts/cluster-stop.sh

# the e2e tests on the cluster (marker `cluster`; not part of `make test`: .ci/run runs both)
test-cluster: cluster-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest tests/e2e/cluster -m cluster $(PYTEST_ARGS)

bench-cluster: cluster-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/cluster.py

clean:
	rm -rf $(VENV) .demo .cluster build *.egg-info
