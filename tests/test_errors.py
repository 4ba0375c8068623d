"""One error tree, one first-line helper, one mapping to HTTP statuses."""

from __future__ import annotations

import ast
import builtins
import pickle
from pathlib import Path

import pytest

import mlopslab
from mlopslab.errors import (
    ConfigError,
    DataError,
    MlopsLabError,
    RegistryError,
    StageError,
    StoreError,
    first_line,
)
from mlopslab.serving.http import ApiError, ScoringError, status_for
from mlopslab.serving.runtime import CaptureFull

SOURCE = Path(mlopslab.__file__).parent
BUILTIN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
# The root itself, and errors raised and caught in one module (no user sees them).
INTERNAL = {"serving/schema.py": {"RowError"}, "errors.py": {"MlopsLabError"}}
# The course's exceptions are another change's to move into the tree.
ELSEWHERE = ("course/",)


def test_every_exception_a_user_can_meet_roots_at_mlopslab_error() -> None:
    outside = []
    for path in sorted(SOURCE.rglob("*.py")):
        where = path.relative_to(SOURCE).as_posix()
        if where.startswith(ELSEWHERE):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            if bases & BUILTIN_ERRORS and node.name not in INTERNAL.get(where, ()):
                outside.append(f"{where}: {node.name}({', '.join(sorted(bases))})")
    assert not outside, f"derive these from MlopsLabError (errors.py): {outside}"
    assert issubclass(ApiError, MlopsLabError) and issubclass(CaptureFull, StoreError)


def test_first_line() -> None:
    assert first_line(ValueError("  bad row\nTraceback: ...\n")) == "bad row"
    assert first_line(ValueError("x" * 500)) == "x" * 200
    assert first_line(ValueError("x" * 500), limit=10) == "x" * 10
    assert first_line(KeyError()) == "KeyError"
    assert first_line(OSError("\n\n")) == "OSError"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ApiError(415, "content type"), 415),
        (ScoringError(ValueError("Input contains NaN")), 422),
        (CaptureFull(), 503),
        (StoreError("capture store is locked"), 503),
        (RegistryError("no version 'champion'"), 409),
        (DataError("bad input"), 400),
        (ConfigError("bad setting"), 500),
        (StageError("a stage failed"), 500),
        (MlopsLabError("anything else"), 500),
    ],
)
def test_each_error_has_one_http_status(error: MlopsLabError, status: int) -> None:
    assert status_for(error) == status


def test_errors_cross_processes_with_their_details() -> None:
    api = pickle.loads(pickle.dumps(ApiError(413, "too many rows", "rows", 3)))
    assert (api.status, api.message, api.field, api.row) == (
        413,
        "too many rows",
        "rows",
        3,
    )
    full = pickle.loads(pickle.dumps(CaptureFull()))
    assert full.one_line() == "capture queue is full; retry shortly"
    scoring = ScoringError(ValueError("Input contains NaN\nmore"))
    assert scoring.message == "the model cannot score these rows: Input contains NaN"
