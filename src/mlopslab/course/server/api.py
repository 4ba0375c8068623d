"""The token API behind `mlopslab course submit` and the terminal quiz.

JSON in and out; a token names the student, so no CSRF cookie is involved.
A student reaches only their own submissions and quiz runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from mlopslab.course.classroom.models import Member, Submission
from mlopslab.course.server import quizzes
from mlopslab.course.server.access import token_member
from mlopslab.course.server.submissions import accept, feedback
from mlopslab.course.server.syllabus import unit
from mlopslab.errors import CourseError

Handler = Callable[..., HttpResponse]


def _problem(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def with_token(view: Handler) -> Handler:
    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member = token_member(request)
        if member is None:
            return _problem(
                401,
                "no valid token: ask your instructor for one "
                "(`mlopslab course token STUDENT`)",
            )
        try:
            return view(request, member, *args, **kwargs)
        except CourseError as exc:
            return _problem(404 if "no module" in exc.message else 400, exc.one_line())

    return wrapped


@with_token
@require_POST
def submit(request: HttpRequest, member: Member, module: str) -> HttpResponse:
    upload = request.FILES.get("upload")
    if upload is None:
        return _problem(400, "no file in the form field 'upload'")
    found = accept(member.student, module, upload)
    return JsonResponse(_status(found), status=201)


@with_token
@require_GET
def status(request: HttpRequest, member: Member, pk: int) -> HttpResponse:
    found = Submission.objects.filter(pk=pk, student=member.student).first()
    if found is None:
        return _problem(404, f"you have no submission {pk}")
    return JsonResponse(_status(found))


def _status(found: Submission) -> dict[str, Any]:
    context = feedback(found)
    return {
        "id": found.pk,
        "module": found.module,
        "status": found.status,
        "score": found.score,
        "max_score": found.max_score,
        "lateness": context["late"].sentence(),
        # The grader's own trouble names instructor files: for instructors only.
        "summary": "" if found.status == "failed" else found.summary,
        "checks": [
            {k: r[k] for k in ("name", "score", "max_score", "status", "output")}
            for r in context["shown"]
        ],
        "withheld": context["withheld"],
    }


@with_token
def quiz(request: HttpRequest, member: Member, module: str) -> HttpResponse:
    """GET: the run in progress (questions, no keys); POST: answer one."""
    unit(module)
    if request.method == "POST":
        return _answer(request, member, module)
    try:
        run = quizzes.open_run(member.student, module)
    except quizzes.NoAttemptsLeft as exc:
        return _problem(409, exc.one_line())
    marked = quizzes.marks(run)
    return JsonResponse(
        {
            "run": run.pk,
            "attempt": run.number + 1,
            "left": quizzes.attempts_left(run),
            "questions": [
                {
                    **q.public(),
                    "answer_format": q.answer_format(),
                    "answered": q.id in marked,
                }
                for q in quizzes.questions(run)
            ],
        }
    )


def _answer(request: HttpRequest, member: Member, module: str) -> HttpResponse:
    try:
        body = json.loads(request.body or b"{}")
        run, question, given = int(body["run"]), str(body["question"]), body["answer"]
    except (ValueError, KeyError, TypeError):
        return _problem(400, 'send JSON {"run": ID, "question": ID, "answer": TEXT}')
    if not quizzes.QuizRun.objects.filter(
        pk=run, student=member.student, module=module
    ).exists():
        return _problem(404, f"you have no quiz run {run} in {module}")
    marked, _ = quizzes.answer(run, member.student, question, str(given))
    return JsonResponse(
        {
            "question": question,
            "given": marked.given,
            "points": marked.points,
            "correct": marked.correct,
            "explanation": marked.question.explanation,
        }
    )
