"""Quizzes taken on the server: one question locked at a time, keys after.

A run is one attempt. Its questions come from the student's own variant
(`make_variant` seeded by student, module and attempt number). The key and the
explanation of a question leave the server only in the answer to that
question, after the answer is stored; an answer, once stored, cannot change.
"""

from __future__ import annotations

import time

from django.db import IntegrityError, transaction

from mlopslab.course.classroom.models import Attempt, QuizRun
from mlopslab.course.quiz import Marked, Shown, Variant, make_variant, mark
from mlopslab.course.server.syllabus import unit
from mlopslab.errors import CourseError

ANSWER_LIMIT = 500  # characters: answers are letters, numbers or a short phrase


class NoAttemptsLeft(CourseError):
    pass


def finished_runs(student: str, module: str, demo: str = "") -> int:
    return QuizRun.objects.filter(
        student=student, module=module, demo=demo, attempt__isnull=False
    ).count()


def attempts_left(run: QuizRun) -> int | None:
    """Graded attempts left after this run: None means unlimited."""
    quiz = unit(run.module).quiz
    if run.demo or quiz is None or quiz.attempt_limit is None:
        return None
    return max(0, quiz.attempt_limit - run.number - 1)


def open_run(student: str, module: str, demo: str = "") -> QuizRun:
    """The run in progress, or a new one if an attempt is left."""
    current = _unfinished(student, module, demo)
    if current is not None:
        return current
    number = finished_runs(student, module, demo)
    quiz = unit(module).quiz
    limit = quiz.attempt_limit if quiz else None
    if not demo and limit is not None and number >= limit:
        raise NoAttemptsLeft(
            f"no attempts left on the {module} quiz",
            "your best attempt counts; ask your instructor if something went wrong",
        )
    # A demo quiz is taken once: it counts toward participation, and its keys
    # (questions that may come back in the graded quiz) are not for harvesting.
    if demo and number >= 1:
        raise NoAttemptsLeft(
            f"you have taken the {demo} demo quiz",
            "it counts toward your participation; go on with the module",
        )
    variant = _variant(student, module, demo, number)
    try:
        with transaction.atomic():
            return QuizRun.objects.create(
                student=student,
                module=module,
                demo=demo,
                number=number,
                seed=variant.seed,
                started_at=time.time(),
            )
    except IntegrityError:  # two tabs opened the same attempt: use the one made
        found = _unfinished(student, module, demo)
        if found is None:
            raise
        return found


def variant(run: QuizRun) -> Variant:
    return _variant(run.student, run.module, run.demo, run.number)


def answer(
    run_id: int, student: str, question_id: str, given: str
) -> tuple[Marked, bool]:
    """Store and mark one answer; the first answer to a question is final.
    Return the mark and whether the run is now finished (QuizRun.DoesNotExist
    when the run is not this student's)."""
    if len(given) > ANSWER_LIMIT:
        raise CourseError(
            f"that answer is {len(given)} characters long",
            f"answer in at most {ANSWER_LIMIT} characters",
        )
    with transaction.atomic():
        run = QuizRun.objects.select_for_update().get(pk=run_id, student=student)
        shown = variant(run).question(question_id)
        if question_id in run.answers:
            return mark(shown, run.answers[question_id]), run.attempt_id is not None
        marked = mark(shown, given)  # CourseError on a malformed answer
        run.answers[question_id] = marked.given
        run.points[question_id] = marked.points
        run.save(update_fields=["answers", "points"])
        _finish_if_complete(run)
    return marked, run.attempt_id is not None


def marks(run: QuizRun) -> dict[str, Marked]:
    """The answered questions of a run, marked again from what was stored."""
    shown = {q.id: q for q in variant(run).questions}
    return {qid: mark(shown[qid], given) for qid, given in run.answers.items()}


def questions(run: QuizRun) -> tuple[Shown, ...]:
    return variant(run).questions


def _finish_if_complete(run: QuizRun) -> None:
    shown = variant(run).questions
    if run.attempt_id is not None or len(run.answers) < len(shown):
        return
    run.attempt = Attempt.objects.create(
        student=run.student,
        module=run.module,
        kind="quiz",
        variant_seed=run.seed,
        demo=run.demo or None,
        answers=run.answers,
        details=run.points,
        score=sum(run.points.values()),
        max_score=float(len(shown)),
        started_at=run.started_at,
        finished_at=time.time(),
    )
    run.save(update_fields=["attempt"])


def _unfinished(student: str, module: str, demo: str) -> QuizRun | None:
    return (
        QuizRun.objects.filter(
            student=student, module=module, demo=demo, attempt__isnull=True
        )
        .order_by("-number")
        .first()
    )


def _variant(student: str, module: str, demo: str, number: int) -> Variant:
    quiz = unit(module).quiz
    if quiz is None:
        raise CourseError(
            f"the module {module} has no quiz", "pick another module's quiz"
        )
    return make_variant(quiz, student, module, demo or None, attempt=number)
