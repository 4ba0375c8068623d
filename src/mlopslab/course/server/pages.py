"""The students' pages: home, lesson, quiz, assignment, submission."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from markdown_it import MarkdownIt

from mlopslab.course.classroom.models import QuizRun, Release, Submission
from mlopslab.course.gradebook import record_view
from mlopslab.course.server import quizzes
from mlopslab.course.server.access import signed_in
from mlopslab.course.server.deadlines import due_for, lateness
from mlopslab.course.server.progress import cells, participation
from mlopslab.course.server.submissions import accept, feedback
from mlopslab.course.server.syllabus import unit
from mlopslab.course.variants import describe, draw
from mlopslab.errors import CourseError

TERM = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def _student(request: HttpRequest) -> str:
    return str(request.member.student)


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    if request.member.role == "instructor":
        return redirect("grid")
    student = _student(request)
    row = cells([student], settings.ATTEMPT_POLICY)[student]
    done, total = participation(row)
    return render(
        request,
        "classroom/home.html",
        {"row": row, "done": done, "total": total, "now": datetime.now(UTC)},
    )


@signed_in
def lesson(request: HttpRequest, module: str) -> HttpResponse:
    found = _unit(module)
    record_view(_student(request), found.id)
    body = TERM.sub(lambda m: m.group(2) or m.group(1), _lesson_body(found.id))
    return render(
        request,
        "classroom/lesson.html",
        {"unit": found, "html": MARKDOWN.render(body)},
    )


@signed_in
def quiz(request: HttpRequest, module: str) -> HttpResponse:
    found = _unit(module)
    demo = request.GET.get("demo", "")
    if demo and demo not in found.demos:
        raise Http404("no such demo")
    student = _student(request)
    try:
        run = quizzes.open_run(student, found.id, demo)
    except quizzes.NoAttemptsLeft as exc:
        return _quiz_over(request, found, exc)
    return render(request, "classroom/quiz.html", _quiz_context(found, run, demo))


def _quiz_over(request: HttpRequest, found: Any, exc: CourseError) -> HttpResponse:
    return render(
        request,
        "classroom/quiz_over.html",
        {"unit": found, "message": exc.one_line()},
    )


def _quiz_context(found: Any, run: QuizRun, demo: str) -> dict[str, Any]:
    marked = quizzes.marks(run)
    shown = quizzes.questions(run)
    left = quizzes.attempts_left(run)
    return {
        "unit": found,
        "run": run,
        "demo": demo,
        "items": [(n, q, marked.get(q.id)) for n, q in enumerate(shown, start=1)],
        "answered": len(marked),
        "total": len(shown),
        "left": left,
    }


@signed_in
@require_POST
def answer(request: HttpRequest, run: int, question: str) -> HttpResponse:
    student = _student(request)
    shown_number = request.POST.get("number", "")
    number = int(shown_number) if shown_number.isdigit() else 0
    try:
        marked, finished = quizzes.answer(run, student, question, _given(request))
    except QuizRun.DoesNotExist as exc:
        raise Http404("not your quiz") from exc
    except CourseError as exc:
        taken = get_object_or_404(QuizRun, pk=run, student=student)
        asked = {q.id: q for q in quizzes.questions(taken)}
        if question not in asked:
            raise Http404("no such question in your quiz") from exc
        shown = asked[question]
        return render(
            request,
            "classroom/_question.html",
            {"run": taken, "q": shown, "n": number, "error": exc.one_line()},
            status=400,
        )
    context = {"q": marked.question, "n": number, "m": marked, "finished": finished}
    return render(request, "classroom/_question.html", context)


def _given(request: HttpRequest) -> str:
    """The answer as text: ticked letters joined, or what was typed."""
    ticked = request.POST.getlist("choice")
    return ",".join(ticked) if ticked else request.POST.get("answer", "").strip()


@signed_in
@require_http_methods(["GET", "POST"])
def assignment(request: HttpRequest, module: str) -> HttpResponse:
    found = _unit(module)
    if found.policy is None:
        raise Http404("no graded assignment in this module")
    student = _student(request)
    error, status = "", 200
    if request.method == "POST":
        upload = request.FILES.get("upload")
        try:
            if upload is None:
                raise CourseError("no file was uploaded", "choose a .zip or a .bundle")
            submission = accept(student, found.id, upload)
        except CourseError as exc:
            error, status = exc.one_line(), 400
        else:
            return redirect("submission", submission.pk)
    mine = Submission.objects.filter(student=student, module=found.id).order_by("-id")
    now = datetime.now(UTC)
    return render(
        request,
        "classroom/assignment.html",
        {
            "unit": found,
            "submissions": mine,
            "error": error,
            "due": due_for(student, found),
            "late": lateness(student, found, now),
            "solution": _solution_open(student, found, now),
            "numbers": describe(draw(found.policy.variant, student, found.id)),
            "student": student,
        },
        status=status,
    )


@signed_in
def submission(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(Submission, pk=pk, student=_student(request))
    context = feedback(found)
    template = (
        "classroom/_submission.html"
        if request.headers.get("HX-Request")
        else "classroom/submission.html"
    )
    return render(request, template, context)


@signed_in
def solution(request: HttpRequest, module: str) -> HttpResponseBase:
    found = _unit(module)
    if not _solution_open(_student(request), found, datetime.now(UTC)):
        raise Http404("the solution is not released")
    path = found.folder / "instructor" / "solution.patch"
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"{module}.patch")


def _solution_open(student: str, found: Any, now: datetime) -> bool:
    """Released by an instructor, and past this student's own due date."""
    if found.policy is None or not Release.objects.filter(module=found.id).exists():
        return False
    due = due_for(student, found)
    return due is not None and now > due


def _unit(module: str) -> Any:
    try:
        return unit(module)
    except CourseError as exc:
        raise Http404(exc.one_line()) from exc


def _lesson_body(module: str) -> str:
    """The lesson with its exercises written out: task and hints, and never
    the solutions, which this instructor's checkout holds."""
    from mlopslab.course.exercises import as_markdown
    from mlopslab.course.server.syllabus import course

    found = course().module(module)
    return as_markdown(found.body, found.folder, solutions=False, collapsible=False)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "classroom/error.html",
        {
            "title": "This form has expired",
            "message": "The page was open too long or came from elsewhere. "
            "Go back, reload the page and send it again.",
        },
        status=403,
    )
