# Overleg developer and operator entry points. See README.md.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: run test test-sqlite lint bench install clean-data

install:
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --user --quiet uv \
	  || python3 -m pip install --user --quiet --break-system-packages uv
	@$(UV) sync --locked --quiet

## make run: set up (first time: keys, database, demo organisation) and serve Overleg
run: install
	@$(UV) run --no-sync overleg init
	@exec $(UV) run --no-sync overleg serve

## make test: the whole suite, on SQLite and on PostgreSQL
test: install
	@$(UV) run --no-sync pytest $(PYTEST_ARGS)

## make test-sqlite: only the SQLite half (no PostgreSQL needed)
test-sqlite: install
	@OVERLEG_TEST_DATABASES=sqlite $(UV) run --no-sync pytest $(PYTEST_ARGS)

lint: install
	@$(UV) run --no-sync ruff check src tests
	@$(UV) run --no-sync ruff format --check src tests
	@$(UV) run --no-sync mypy
	@$(UV) run --no-sync lint-imports

bench: install
	@$(UV) run --no-sync python -m tests.bench

clean-data:
	rm -rf var/
