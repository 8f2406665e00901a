# Overleg developer and operator entry points. See README.md.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: run test test-sqlite lint bench install clean-data web api-client screenshots

install:
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --user --quiet uv \
	  || python3 -m pip install --user --quiet --break-system-packages uv
	@$(UV) sync --locked --quiet

# the data folder (Overleg's default, or OVERLEG_DATA_DIR) and the port of the local Janus
DATA ?= $(or $(OVERLEG_DATA_DIR),var)
JANUS_WS_PORT ?= 18188
JANUS_DIR := $(abspath $(DATA))/janus

## make web: build the web client (web/, TypeScript and React) into the package, which serves
## it; installs its npm packages from web/package-lock.json first when they changed
web:
	@command -v npm >/dev/null 2>&1 || { echo "make web: needs Node.js 20 or newer with npm"; exit 1; }
	@cd web && if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --no-audit --no-fund --loglevel=error; fi
	@cd web && npm run --silent build >/dev/null

## make api-client: regenerate the web client's API types from Overleg's OpenAPI schema (a
## test fails while the committed web/src/api/schema.d.ts is stale)
api-client: install web
	@$(UV) run --no-sync python -m overleg.webui.openapi build/openapi.json
	@cd web && npx --no-install openapi-typescript ../build/openapi.json -o src/api/schema.d.ts >/dev/null
	@echo "web/src/api/schema.d.ts regenerated"

## make screenshots: the main screens of the web client, taken by the browser tests, into
## docs/screenshots/ (SQLite only)
screenshots: install web
	@OVERLEG_SCREENSHOTS=$(abspath docs/screenshots) OVERLEG_TEST_DATABASES=sqlite \
	  $(UV) run --no-sync pytest -q -p no:randomly tests/e2e/browser

## make run: set up (first time: keys, database, demo organisation) and serve Overleg; with
## Janus installed, a private Janus (config by `overleg media config`) gives meetings media;
## with ClamAV installed, a private clamd (`overleg scan start`) scans uploads (without it,
## uploads stay pending: nothing else breaks)
run: install web
	@$(UV) run --no-sync overleg init
	@$(UV) run --no-sync overleg scan update-signatures --timeout 900 2>&1 | sed 's/^/scanning: signatures: /' || true
	@stop_clamd=:; trap '$$stop_clamd' EXIT; trap 'exit 130' INT TERM; \
	if out=$$($(UV) run --no-sync overleg scan start 2>&1); then \
	  clamd_pid=$$(printf '%s\n' "$$out" | tail -n 1); stop_clamd="kill $$clamd_pid"; \
	  echo "scanning: on (clamd pid $$clamd_pid, log $(DATA)/clamd/clamd.log)"; \
	else \
	  echo "scanning: off - uploads stay pending ($$(printf '%s\n' "$$out" | tail -n 1))"; \
	fi; \
	if [ -n "$$OVERLEG_MEDIA_JANUS" ]; then \
	  echo "media: on, with the Janus instances in OVERLEG_MEDIA_JANUS"; \
	  $(UV) run --no-sync overleg serve; exit $$?; \
	elif ! command -v janus >/dev/null 2>&1; then \
	  echo "media: off - meetings run without audio/video (to add them: apt-get install janus janus-tools)"; \
	  $(UV) run --no-sync overleg serve; exit $$?; \
	fi; \
	if ! $(UV) run --no-sync overleg media config --out "$(JANUS_DIR)" --name local \
	    --ws-port $(JANUS_WS_PORT) >/dev/null; then \
	  echo "media: off - no Janus config (error above); meetings run without audio/video"; \
	  $(UV) run --no-sync overleg serve; exit $$?; \
	fi; \
	janus -C "$(JANUS_DIR)/janus.jcfg" -F "$(JANUS_DIR)" -L "$(abspath $(DATA))/janus.log" -N -o \
	  </dev/null >"$(abspath $(DATA))/janus.stdout.log" 2>&1 & janus_pid=$$!; \
	trap 'kill $$janus_pid 2>/dev/null && wait $$janus_pid 2>/dev/null; $$stop_clamd' EXIT; \
	export OVERLEG_MEDIA_JANUS='[{"name":"local","url":"ws://127.0.0.1:$(JANUS_WS_PORT)"}]'; \
	for _ in $$(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$(JANUS_WS_PORT)) 2>/dev/null && break; sleep 0.1; done; \
	if $(UV) run --no-sync overleg media check >/dev/null 2>&1; then \
	  echo "media: on (Janus on 127.0.0.1:$(JANUS_WS_PORT), log $(DATA)/janus.log)"; \
	else \
	  kill $$janus_pid 2>/dev/null; unset OVERLEG_MEDIA_JANUS; \
	  echo "media: off - Janus did not start (see $(DATA)/janus.log); meetings run without audio/video"; \
	fi; \
	$(UV) run --no-sync overleg serve

## make test: the whole suite, on SQLite and on PostgreSQL
test: install web
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
