# Every install step lives here: a fresh machine needs only python3 (3.11+) and make.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PY_SOURCES := src tests bench

.PHONY: run test lint bench bench-scale bench-logs format sync clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	touch $@

sync: .venv/.synced

## Start Solvyd on the embedded default: server + one local agent, SQLite under ./.solvyd/
run: sync
	$(UV) run --frozen solvyd up

## Run the whole test suite (SQLite and the PostgreSQL at 127.0.0.1:5432)
test: sync
	$(UV) run --frozen pytest $(PYTEST_ARGS)

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

## Scheduling at scale: 50 agents on PostgreSQL, a 1,000-build backlog, fairness (~4 min)
bench-scale: sync
	$(UV) run --frozen python bench/scale.py

## Live logs: lines/s one server ingests from 20 builds, a line's latency to viewers (~2 min)
bench-logs: sync
	$(UV) run --frozen python bench/logs.py

clean:
	rm -rf .venv $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
