"""Written answers graded by hand: the instructor's points, in the score that counts.

A submission's score is its checks' points plus the instructor's points for
its written answers, with the late policy applied to both. `rescore` keeps the
submission and its gradebook attempt in step whenever either part changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from mlopslab.course.classroom.models import Attempt, HandGrade, Submission
from mlopslab.course.server.access import instructors
from mlopslab.course.server.syllabus import unit
from mlopslab.course.written import Written
from mlopslab.errors import CourseError

COMMENT_LIMIT = 4000  # characters of an instructor's comment


@dataclass(frozen=True)
class Answer:
    """One written question of a submission: what was answered, what it got."""

    question: Written
    text: str
    grade: HandGrade | None


def answers(found: Submission) -> list[Answer]:
    policy = unit(found.module).policy
    questions = policy.written if policy else []
    given = {g.question: g for g in found.hand_grades.all()}
    return [
        Answer(q, str(found.written.get(q.id, "")), given.get(q.id)) for q in questions
    ]


def to_grade(submissions: list[Submission]) -> list[Submission]:
    """Those with a written answer the instructor has not graded yet."""
    policy = unit(submissions[0].module).policy if submissions else None
    if policy is None or not policy.written:
        return []
    asked = {q.id for q in policy.written}
    return [
        s
        for s in submissions
        if s.status == "graded"
        and not asked <= {g.question for g in s.hand_grades.all()}
    ]


def rescore(found: Submission) -> None:
    """Checks' points plus hand points, late policy applied: the row and its attempt."""
    policy = unit(found.module).policy
    written = [q.points for q in policy.written] if policy else []
    checks = sum(float(r["score"]) for r in found.results)
    hand = sum(g.points for g in found.hand_grades.all())
    found.max_score = sum(float(r["max_score"]) for r in found.results) + sum(written)
    found.score = round((checks + hand) * found.kept, 4)
    found.save(update_fields=["score", "max_score"])
    if found.attempt_id is not None:
        Attempt.objects.filter(pk=found.attempt_id).update(
            score=found.score, max_score=found.max_score
        )


@instructors
@require_POST
def grade_written(request: HttpRequest, pk: int, question: str) -> HttpResponse:
    found = get_object_or_404(Submission, pk=pk)
    asked = {a.question.id: a.question for a in answers(found)}
    if question not in asked:
        raise Http404(f"{found.module} has no written question {question!r}")
    try:
        points = _points(request.POST.get("points", ""), asked[question].points)
        comment = _comment(request.POST.get("comment", ""))
    except CourseError as exc:
        context = {"s": found, "answers": answers(found), "error": exc.one_line()}
        return render(request, "classroom/teach_submission.html", context, status=400)
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=found.pk)
        HandGrade.objects.update_or_create(
            submission=locked,
            question=question,
            defaults={
                "points": points,
                "comment": comment,
                "grader": str(request.member.student),
                "graded_at": datetime.now(UTC),
            },
        )
        rescore(locked)
    return redirect("teach-submission", found.pk)


def _points(text: str, most: float) -> float:
    try:
        points = float(text.strip())
    except ValueError:
        points = math.nan
    if not 0 <= points <= most:  # also refuses nan and inf
        raise CourseError(
            f"points {text.strip()[:20]!r} are not a number from 0 to {most:g}",
            "give the answer's points",
        )
    return points


def _comment(text: str) -> str:
    if len(text) > COMMENT_LIMIT:
        raise CourseError(
            f"the comment is longer than {COMMENT_LIMIT} characters", "shorten it"
        )
    return text.strip()
