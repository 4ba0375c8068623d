"""The gradebook: attempts, lesson views, the attempt policy, damaged files."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from django.db import connections

from mlopslab.course.exports import export
from mlopslab.course.gradebook import Attempt, Gradebook, Policy
from mlopslab.errors import StoreError


def quiz_attempt(student: str, module: str, score: float) -> Attempt:
    return Attempt(
        student=student,
        module=module,
        kind="quiz",
        score=score,
        max_score=10,
        answers={"q1": "B"},
        details={"q1": 1.0},
        variant_seed=42,
    )


def test_attempts_are_recorded_with_everything(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gradebook.db") as book:
        attempt_id = book.record_attempt(quiz_attempt("s1", "m", 7))
        [stored] = book.attempts("s1")
    assert stored.id == attempt_id and stored.answers == {"q1": "B"}
    assert stored.variant_seed == 42 and stored.score == 7 and stored.percent == 70
    assert stored.finished_at >= stored.started_at
    # A new connection (another process, the autograder) sees the same rows.
    with Gradebook(tmp_path / "gradebook.db") as again:
        assert again.attempts(module="m")[0].id == attempt_id


def test_the_with_block_closes_the_connection(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), Gradebook(tmp_path / "gradebook.db") as book:
        raise RuntimeError("the block fails")
    assert connections["default"].connection is None
    assert book.attempts() == []  # and it opens again when asked


@pytest.mark.parametrize(("policy", "counted"), [("best", 9.0), ("last", 4.0)])
def test_the_policy_picks_the_attempt_that_counts(
    tmp_path: Path, policy: Policy, counted: float
) -> None:
    with Gradebook(tmp_path / "gradebook.db") as book:
        for score in (5, 9, 4):
            book.record_attempt(quiz_attempt("s1", "m", score))
        book.record_attempt(quiz_attempt("s2", "m", 10))
        book.record_view("s1", "m")
        book.record_view("s1", "m")
        [standing, other] = book.standing("s1", ["m", "n"], policy)
    assert standing.opened and standing.quiz_attempts == 3
    assert standing.quiz is not None and standing.quiz.score == counted
    assert standing.assignment is None
    assert not other.opened and other.quiz is None


@pytest.mark.parametrize("policy", ["best", "last"])
def test_an_assignment_counts_its_last_graded_hand_in_whatever_the_policy(
    tmp_path: Path, policy: Policy
) -> None:
    """A regrade that lowers a score (a check fixed, a penalty applied) counts."""
    with Gradebook(tmp_path / "gradebook.db") as book:
        for score in (9, 6):
            book.record_attempt(
                replace(quiz_attempt("s1", "m", score), kind="assignment")
            )
        [standing] = book.standing("s1", ["m"], policy)
        exported = export(book, policy, "csv", ["m"])
    assert standing.assignment is not None and standing.assignment.score == 6
    [row] = [line for line in exported.splitlines() if line.startswith("s1")]
    assert ",6" in row and ",9" not in row


def test_a_damaged_gradebook_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "gradebook.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the course database"):
        Gradebook(path)


def test_a_gradebook_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gradebook.db"
    Gradebook(path).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO django_migrations (app, name, applied)"
            " VALUES ('classroom', '9999_from_the_future', '2030-01-01')"
        )
    with pytest.raises(StoreError, match="newer mlopslab"):
        Gradebook(path)
