# Every target installs what it needs; a fresh machine needs only python3 and make.
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Local development only: debug pages, the development secret, local hosts.
DEV := DEBUG=1
# The PostgreSQL leg of the tests (pytest-django creates test_<name> on it).
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/chat_api
# No PostgreSQL server at POSTGRES_URL: a notice locally, a failure under
# CI=true (CI must not pass a change that never ran on PostgreSQL).
NO_POSTGRES = echo "*** PostgreSQL $(1) SKIPPED: no server at $(POSTGRES_URL)."; \
	if [ "$$CI" = true ]; then echo "*** CI=true: a PostgreSQL leg cannot be skipped."; exit 1; fi
# The suite runs in one process per core (pytest-xdist), each test file whole
# in one of them: most of its time is spent waiting on real servers, and the
# tests of one file share what they set up (a Redis database, a live server).
PARALLEL ?= --numprocesses=auto --dist=loadfile
# `make serve` locally: production settings over plain HTTP on loopback. A
# real deployment sets these (and SECRET_KEY) in its environment.
SERVE_ENV := DEBUG=0 \
	SECRET_KEY="$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}" \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
	SECURE_SSL_REDIRECT="$${SECURE_SSL_REDIRECT:-0}"

.PHONY: help
help: ## Show this help
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(INSTALLED): requirements/base.txt requirements/prod.txt requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

.PHONY: install
install: $(INSTALLED) ## Create .venv with the pinned development requirements

.PHONY: run
run: install ## Migrate the SQLite database and serve on http://127.0.0.1:8000
	$(DEV) $(PY) manage.py migrate --no-input
	$(DEV) $(PY) manage.py runserver 127.0.0.1:8000

.PHONY: serve
serve: install ## Production mode: gunicorn with uvicorn workers (WEB_CONCURRENCY, SYNC_THREADS), DEBUG off
	$(SERVE_ENV) $(PY) manage.py migrate --no-input
	$(SERVE_ENV) $(PY) manage.py createcachetable
	$(SERVE_ENV) $(PY) manage.py collectstatic --no-input -v0
	$(SERVE_ENV) $(PY) -m gunicorn --config config/gunicorn.py

$(VENV)/.bench-installed: $(INSTALLED) requirements/bench.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/bench.txt
	touch $@

.PHONY: bench
bench: $(VENV)/.bench-installed ## Load tests beside the reference apps (BENCH_ARGS="--only streams ..."); writes docs/benchmarks.md
	@command -v wrk >/dev/null || { echo "Installing wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(PY) -m bench.run $(BENCH_ARGS)

$(VENV)/.fuzz-installed: $(INSTALLED) requirements/fuzz.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/fuzz.txt
	touch $@

# schemathesis against a live gunicorn server on a free loopback port, on
# SQLite and then on PostgreSQL when a server answers at POSTGRES_URL.
.PHONY: fuzz
fuzz: $(VENV)/.fuzz-installed ## Fuzz every operation of schema.yml against a live server (FUZZ_MAX_EXAMPLES)
	DATABASE_URL= $(PY) -m pytest -m fuzz -s --tb=short tests/fuzz
	@if $(PY) -m tests.postgres_available "$(POSTGRES_URL)"; then \
		DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest -m fuzz -s --tb=short tests/fuzz; \
	else \
		$(call NO_POSTGRES,fuzz); \
	fi

$(VENV)/.clients-installed: $(INSTALLED) requirements/clients.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/clients.txt
	touch $@

# npm ci writes node_modules/.package-lock.json: it stands for the install.
clients/typescript/node_modules/.package-lock.json: clients/typescript/package-lock.json
	@command -v npm >/dev/null || { echo "make clients needs Node.js (20 or later) and npm"; exit 1; }
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Clients generated from schema.yml (into clients/*/build/, ignored by git),
# a program type-checked against each and run against a live server.
.PHONY: clients
clients: $(VENV)/.clients-installed clients/typescript/node_modules/.package-lock.json ## Generate the Python and TypeScript clients from schema.yml; type-check and run a program with each
	DATABASE_URL= $(PY) -m pytest -m clients tests/clients

# Two app servers behind nginx (Debian's, installed if missing) over one
# PostgreSQL and one Redis; one is killed with SIGKILL under a streamed chat
# load (tests/cluster). It needs PostgreSQL: without one, a notice locally
# and a failure under CI=true.
.PHONY: cluster-test
cluster-test: install ## Rehearse two nodes behind nginx: kill -9 one under load, check the books and the sweeper
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { \
		echo "Installing nginx"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
	@if $(PY) -m tests.postgres_available "$(POSTGRES_URL)"; then \
		DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest -m cluster -s --no-skips tests/cluster; \
	else \
		$(call NO_POSTGRES,cluster test); \
	fi

.PHONY: superuser
superuser: install ## Create an admin account for /admin/
	$(DEV) $(PY) manage.py migrate --no-input
	$(DEV) $(PY) manage.py createsuperuser

.PHONY: test
test: install lint typecheck migrations-check schema-check pytest postgres-leg ## Lint, types, migrations, schema, the suite on SQLite and PostgreSQL

.PHONY: lint
lint: install ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

.PHONY: format
format: install ## Apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

.PHONY: typecheck
typecheck: install ## mypy, strict, with the Django and DRF plugins
	$(PY) -m mypy .

.PHONY: migrations-check
migrations-check: install ## Fail if a model change has no migration
	$(DEV) $(PY) manage.py makemigrations --check --dry-run

.PHONY: schema-check
schema-check: install ## Fail if schema.yml is invalid or differs from the code
	@tmp=$$(mktemp) && \
	$(DEV) $(PY) manage.py spectacular --validate --fail-on-warn --file $$tmp && \
	if cmp -s $$tmp schema.yml; then rm $$tmp; \
	else rm $$tmp; echo "schema.yml is out of date: run 'make schema'"; exit 1; fi

.PHONY: schema
schema: install ## Regenerate schema.yml from the code
	$(DEV) $(PY) manage.py spectacular --validate --fail-on-warn --file schema.yml

.PHONY: pytest
pytest: install ## The test suite on SQLite, with coverage (fails under 90%)
	DATABASE_URL= $(PY) -m pytest $(PARALLEL) --cov --cov-report=term

# The browser tests run once, in the SQLite leg: they test pages and the web
# client, which the database under the server does not change.
.PHONY: test-postgres
test-postgres: install ## The test suite on PostgreSQL at POSTGRES_URL (browser tests aside)
	DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest -m "not fuzz and not clients and not cluster and not browser" \
		$(PARALLEL) --cov --cov-report=term

# Runs the PostgreSQL leg when a server answers at POSTGRES_URL, and says so
# plainly when it does not (under CI=true, by failing).
.PHONY: postgres-leg
postgres-leg: install
	@if $(PY) -m tests.postgres_available "$(POSTGRES_URL)"; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "*** Start one, then: make test-postgres POSTGRES_URL=postgres://user@host:5432/name"; \
		$(call NO_POSTGRES,leg); \
	fi

# `make test` runs the browser tests too when Chromium is there, and skips
# them when it is not; this leg exists to run them, so a skip fails it.
.PHONY: test-browser
test-browser: install chromium ## The docs pages and the web client in headless Chromium (installs it if missing)
	DATABASE_URL= $(PY) -m pytest -m browser --no-skips

# Debian's package (needs root: CI installs it this way before `make test`).
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		echo "Installing Chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

.PHONY: clean
clean: ## Remove the virtualenv, caches and the local database
	rm -rf $(VENV) .hypothesis .mypy_cache .ruff_cache .coverage htmlcov db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
	rm -rf clients/python/build clients/typescript/build clients/typescript/node_modules
