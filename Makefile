# Every target installs what it needs; a fresh machine needs only python3 and make.
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Local development only: debug pages, the development secret, local hosts.
DEV := DEBUG=1

.PHONY: help
help: ## Show this help
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-12s %s\n", $$1, $$2}'

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

.PHONY: superuser
superuser: install ## Create an admin account for /admin/
	$(DEV) $(PY) manage.py migrate --no-input
	$(DEV) $(PY) manage.py createsuperuser

.PHONY: test
test: install lint typecheck migrations-check schema-check pytest ## Every check CI runs

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
pytest: install ## The test suite with coverage (fails under 90%)
	$(PY) -m pytest --cov --cov-report=term

.PHONY: clean
clean: ## Remove the virtualenv, caches and the local database
	rm -rf $(VENV) .mypy_cache .ruff_cache .coverage htmlcov db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
