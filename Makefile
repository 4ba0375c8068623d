# Two commands from a fresh machine: `make run` and `make test`.
# Both bootstrap .venv from uv.lock; re-running is cheap (a stamp file).
PYTHON ?= python3
PYTEST_WORKERS ?= 3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced-stamp
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/version = "\(.*\)"/\1/p}' uv.lock)
TORCH_VERSION := $(shell sed -n '/^name = "torch"$$/{n;s/version = "\(.*\)"/\1/p}' uv.lock)
# Where pip looks for torch. Empty: pip's own settings (PyPI, and any local
# wheels pip is configured to find). Another machine can take the CPU build:
# make setup-test TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

.PHONY: run setup-test test test-fast lint typecheck pytest patches mlflow-schema bench ui clean

$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --compile-bytecode --quiet
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mlopslab run

# The optional `torch` extra for the tests of the PyTorch families and module 9,
# at the versions uv.lock pins (torch and what it needs). pip, not uv: uv would
# take PyPI's CUDA build (several GB); pip also finds a CPU build kept on this
# machine's disk, and a CPU build's local version (2.13.0+cpu) meets the pin. A
# later `uv sync` removes torch again (the lock's default set has none); this
# target puts it back.
setup-test: $(STAMP)
	$(BIN)/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$(TORCH_VERSION)')" 2>/dev/null \
	  || { $(BIN)/uv export --locked --quiet --extra torch --no-hashes --no-header --no-emit-project > $(VENV)/torch-pins.txt \
	  && $(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(VENV)/torch-pins.txt \
	     $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) --extra-index-url https://pypi.org/simple) \
	     "torch==$(TORCH_VERSION)"; }

test: setup-test lint typecheck pytest

# Unit tests only: no servers, no sandbox, no lessons (`slow` and `integration`
# mark the rest). Under a minute on 2 cores.
test-fast: setup-test
	$(BIN)/pytest -q -m "not slow and not integration" -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks course tools
	$(BIN)/ruff format --check src tests benchmarks course tools
	$(BIN)/lint-imports
	$(BIN)/hadolint deploy/Dockerfile

typecheck: setup-test
	$(BIN)/mypy

# Tests run in parallel, spread one by one; tests marked with the same
# xdist_group (a shared server, a Ray cluster) stay on one worker, so their
# fixtures are built once. Most of the time is spent in servers and sandboxes.
pytest: setup-test
	$(BIN)/pytest --durations=15 -n $(PYTEST_WORKERS) --dist loadgroup

# Carry the course's solution and sample patches over a change to the code they
# patch: `make patches BASE=<commit they still apply to>` (see tools/rebase_patches.py).
patches:
	$(BIN)/python tools/rebase_patches.py $(BASE)

# After changing the pinned MLflow: the empty store new workspaces start from,
# dumped from MLflow's own migration (tools/mlflow_schema.py).
mlflow-schema: $(STAMP)
	$(BIN)/python tools/mlflow_schema.py

bench: setup-test
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python -m benchmarks.serving
	$(BIN)/python -m benchmarks.drift
	$(BIN)/python -m benchmarks.scale
	$(BIN)/python -m benchmarks.grading
	$(BIN)/python -m benchmarks.course_server
	$(BIN)/python -m benchmarks.torch_models
	$(BIN)/python -m benchmarks.evaluation_review
	$(BIN)/python -m benchmarks.data_scale --predict

ui: $(STAMP)
	$(BIN)/mlopslab ui

clean:
	rm -rf $(VENV) .mlopslab .pytest_cache .mypy_cache .ruff_cache
