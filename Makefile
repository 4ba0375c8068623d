# Two commands from a fresh machine: `make run` and `make test`.
# Both bootstrap .venv from uv.lock; re-running is cheap (a stamp file).
PYTHON ?= python3
PYTEST_WORKERS ?= 3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced-stamp
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/version = "\(.*\)"/\1/p}' uv.lock)

.PHONY: run test test-fast lint typecheck pytest patches bench ui clean

$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --compile-bytecode --quiet
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mlopslab run

test: lint typecheck pytest

# Unit tests only: no servers, no sandbox, no lessons (`slow` and `integration`
# mark the rest). Under a minute on 2 cores.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow and not integration" -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks course tools
	$(BIN)/ruff format --check src tests benchmarks course tools
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Tests run in parallel, spread one by one; tests marked with the same
# xdist_group (a shared server, a Ray cluster) stay on one worker, so their
# fixtures are built once. Most of the time is spent in servers and sandboxes.
pytest: $(STAMP)
	$(BIN)/pytest --durations=15 -n $(PYTEST_WORKERS) --dist loadgroup

# Carry the course's solution and sample patches over a change to the code they
# patch: `make patches BASE=<commit they still apply to>` (see tools/rebase_patches.py).
patches:
	$(BIN)/python tools/rebase_patches.py $(BASE)

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python -m benchmarks.serving
	$(BIN)/python -m benchmarks.drift
	$(BIN)/python -m benchmarks.scale
	$(BIN)/python -m benchmarks.grading
	$(BIN)/python -m benchmarks.course_server

ui: $(STAMP)
	$(BIN)/mlopslab ui

clean:
	rm -rf $(VENV) .mlopslab .pytest_cache .mypy_cache .ruff_cache
