# Two commands from a fresh machine: `make run` and `make test`.
# Both bootstrap .venv from uv.lock; re-running is cheap (a stamp file).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced-stamp
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/version = "\(.*\)"/\1/p}' uv.lock)

.PHONY: run test lint typecheck pytest bench ui clean

$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --compile-bytecode --quiet
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mlopslab run

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks course
	$(BIN)/ruff format --check src tests benchmarks course

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest --durations=15

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python -m benchmarks.drift
	$(BIN)/python -m benchmarks.scale
	$(BIN)/python -m benchmarks.grading

ui: $(STAMP)
	$(BIN)/mlopslab ui

clean:
	rm -rf $(VENV) .mlopslab .pytest_cache .mypy_cache .ruff_cache
