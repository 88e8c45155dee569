# Every install step lives here: a fresh machine needs python3 (3.11+), make, and Node.js 20+
# with npm for the web UI.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PY_SOURCES := src tests bench hatch_build.py docker

WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json

.PHONY: run test test-web lint bench bench-compare bench-peers bench-scale bench-logs bench-ui \
	bench-api-scale format sync web web-api clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on the CI machines)
# nothing caches it, and every server and agent the tests start compiled its imports again
# (importing the server: 3.0 s compiled on the fly, 1.4 s from bytecode).
.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet --compile-bytecode
	touch $@

sync: .venv/.synced

web/node_modules/.installed: web/package.json web/package-lock.json
	@command -v npm > /dev/null || { echo "the web UI needs Node.js 20+ with npm (apt-get install nodejs npm)" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Rebuilt only when a source file is newer than the last build.
web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run --silent build

## Build the web UI (served by the server at /)
web: web/dist/index.html

## Regenerate the UI's API types after changing the server's API
web-api: sync web/node_modules/.installed
	UV=$(UV) scripts/gen-web-api.sh

# The port `make run` listens on (`make run PORT=9090` when 8080 is taken).
PORT ?= 8080

## Start Solvyd on the embedded default: server + one local agent, SQLite under ./.solvyd/
run: sync web
	$(UV) run --frozen solvyd up --port $(PORT)

# Test processes (pytest-xdist) for the tests that share the machine; a file's tests stay in one
# process (module fixtures, one browser per module). Tests marked `serial` hold the machine's
# cores themselves (fifty agents, an image build): they run after the others, alone, so that
# no other test's servers miss their start behind them.
PYTEST_WORKERS ?= 2

## Run the whole test suite (SQLite and the PostgreSQL at 127.0.0.1:5432); the 40 slowest
## setups, calls and teardowns are listed at the end, to see where CI's time goes
test: sync web test-web
	$(UV) run --frozen python -m compileall -q src > /dev/null
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=40 \
	  -m "not serial" $(PYTEST_ARGS)
	$(UV) run --frozen pytest --durations=20 -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

## The web UI's component tests (Vitest)
test-web: web/node_modules/.installed
	cd web && npx --no-install vitest run

lint: sync
	$(UV) run --frozen ruff check $(PY_SOURCES)
	$(UV) run --frozen ruff format --check $(PY_SOURCES)
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports
	UV=$(UV) scripts/audit-deps.sh

format: sync
	$(UV) run --frozen ruff check --fix $(PY_SOURCES)
	$(UV) run --frozen ruff format $(PY_SOURCES)

bench: sync
	$(UV) run --frozen python bench/dispatch.py --database sqlite
	$(UV) run --frozen python bench/dispatch.py --database postgresql
	$(UV) run --frozen python bench/api_scale.py --database sqlite
	$(UV) run --frozen python bench/api_scale.py --database postgresql

# bench-compare's runs per side and database, the databases, and more arguments for
# bench/dispatch.py (BENCH_ARGS="-n 100"), the same for both sides.
ROUNDS ?= 2
DATABASES ?= sqlite postgresql
BENCH_ARGS ?=
ifneq ($(filter bench-compare,$(MAKECMDGOALS)),)
ifeq ($(strip $(BASE)),)
$(error BASE is required: make bench-compare BASE=<the commit your change starts from>)
endif
endif

## A/B of bench/dispatch.py, BASE's tree against the working tree, alternately, with the
## ratios: `make bench-compare BASE=<commit>` (8 runs of 1-2 min with the defaults)
bench-compare: sync
	$(UV) run --frozen python bench/compare.py --base '$(BASE)' --rounds '$(ROUNDS)' \
	  --databases $(DATABASES) --bench-args='$(BENCH_ARGS)'

## Scheduling at scale: 50 agents on PostgreSQL, a 1,000-build backlog, fairness (~4 min)
bench-scale: sync
	$(UV) run --frozen python bench/scale.py

# More arguments for both runs of bench/api_scale.py (API_SCALE_ARGS=--keep keeps the seeded
# databases and reuses them next time).
API_SCALE_ARGS ?=

## The read paths over a million builds on PostgreSQL, then 100,000 on SQLite, seeded with SQL:
## builds lists, pages deep, stats, audit log, deliveries (~5 min)
bench-api-scale: sync
	$(UV) run --frozen python bench/api_scale.py --database postgresql $(API_SCALE_ARGS)
	$(UV) run --frozen python bench/api_scale.py --database sqlite $(API_SCALE_ARGS)

## Live logs: lines/s one server ingests from 20 builds, a line's latency to viewers (~2 min)
bench-logs: sync
	$(UV) run --frozen python bench/logs.py

## The web UI's live log: a printed line's time to be on screen in Chromium (~30 s)
bench-ui: sync web
	$(UV) run --frozen python bench/ui_log_latency.py

## Side by side with Buildbot 4 (installed from PyPI into .bench-cache/), each run twice (~15 min)
bench-peers: sync
	$(UV) run --frozen python bench/peers/compare.py

clean:
	rm -rf .venv $(TOOLS) .mypy_cache .ruff_cache .pytest_cache web/node_modules web/dist
