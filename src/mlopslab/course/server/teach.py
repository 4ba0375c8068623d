"""The instructors' pages: class grid, module report, queue, regrades, exports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from mlopslab.course.classroom.models import (
    Extension,
    Member,
    Release,
    Submission,
    WorkerBeat,
)
from mlopslab.course.server.access import instructors
from mlopslab.course.server.analysis import check_rates, items
from mlopslab.course.server.handgrading import answers, to_grade
from mlopslab.course.server.progress import Cell, cells, participation
from mlopslab.course.server.syllabus import Unit, unit, units
from mlopslab.course.server.tasks import enqueue
from mlopslab.errors import CourseError

BUSY = {"queued", "running"}


def _students() -> list[Member]:
    return list(Member.objects.filter(role="student").order_by("student"))


@instructors
def grid(request: HttpRequest) -> HttpResponse:
    roster = _students()
    rows = cells([m.student for m in roster], settings.ATTEMPT_POLICY)
    table = [_grid_row(member, rows[member.student]) for member in roster]
    return render(request, "classroom/grid.html", {"units": units(), "table": table})


def _grid_row(member: Member, row: list[Cell]) -> str:
    """A student's whole row, built here: a template node per cell cost most of
    the grid's time in a class of 200."""
    name = escape(member.student)
    if member.name:
        name += format_html('<br><span class="muted">{}</span>', member.name)
    done, total = participation(row)
    cells_html = "".join(f"<td>{_grid_cell(cell)}</td>" for cell in row)
    return mark_safe(f"<tr><th>{name}</th><td>{done}/{total}</td>{cells_html}</tr>")


def _grid_cell(cell: Cell) -> str:
    """One cell's text, built here: a template per cell cost 70 ms a class.

    Only numbers and fixed words go in, so nothing needs escaping.
    """
    none = "\N{EN DASH}"
    parts = [f'<span class="{"ok" if cell.opened else "muted"}">L</span>']
    if cell.module.quiz:
        score = f"{cell.quiz.percent:.0f}%" if cell.quiz else none
        tries = f" ({cell.quiz_attempts})" if cell.quiz_attempts else ""
        parts.append(f"Q {score}{tries}")
    if cell.module.policy:
        latest = cell.latest.status if cell.latest else none
        shown = f"{cell.assignment.percent:.0f}%" if cell.assignment else latest
        days = cell.days_late
        late = f' <span class="bad">{days}d late</span>' if days else ""
        parts.append(f"A {shown}{late}")
    return mark_safe(" · ".join(parts))


@instructors
def module_report(request: HttpRequest, module: str) -> HttpResponse:
    found = _unit(module)
    latest = _latest_submissions(found.id)
    return render(
        request,
        "classroom/module_report.html",
        {
            "unit": found,
            "items": items(found),
            "checks": check_rates(found),
            "latest": latest,
            "to_grade": to_grade(latest),
            "released": Release.objects.filter(module=found.id).first(),
            "extensions": Extension.objects.filter(module=found.id).order_by("student"),
        },
    )


@instructors
def queue(request: HttpRequest) -> HttpResponse:
    waiting = Submission.objects.filter(status__in=["queued", "running"]).order_by("id")
    recent = Submission.objects.exclude(status__in=["queued", "running"]).order_by(
        "-id"
    )[:30]
    template = (
        "classroom/_queue.html"
        if request.headers.get("HX-Request")
        else "classroom/queue.html"
    )
    return render(
        request,
        template,
        {
            "waiting": waiting,
            "recent": recent,
            "workers": WorkerBeat.objects.order_by("worker"),
        },
    )


@instructors
def submission(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(Submission, pk=pk)
    context = {"s": found, "answers": answers(found)}
    return render(request, "classroom/teach_submission.html", context)


@instructors
@require_POST
def regrade(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(Submission, pk=pk)
    if found.status in BUSY:  # one job per submission at a time
        messages.error(request, f"submission {found.pk} is {found.status} already")
    else:
        with transaction.atomic():
            enqueue(found)
        messages.success(request, f"submission {found.pk} queued for grading again")
    return redirect("teach-submission", found.pk)


@instructors
@require_POST
def regrade_module(request: HttpRequest, module: str) -> HttpResponse:
    found = _unit(module)
    idle = [sub for sub in _latest_submissions(found.id) if sub.status not in BUSY]
    with transaction.atomic():
        for sub in idle:
            enqueue(sub)
    messages.success(
        request,
        f"{len(idle)} latest submissions of {found.id} queued again"
        " (those queued or running already are left to finish)",
    )
    return redirect("module-report", found.id)


@instructors
@require_POST
def extend(request: HttpRequest, module: str) -> HttpResponse:
    found = _unit(module)
    student = request.POST.get("student", "").strip()
    try:
        due = _when(request.POST.get("due", ""))
        if not Member.objects.filter(student=student, role="student").exists():
            raise CourseError(
                f"no student {student!r} on the roster", "pick a roster id"
            )
    except CourseError as exc:
        messages.error(request, exc.one_line())
        return redirect("module-report", found.id)
    Extension.objects.update_or_create(
        student=student, module=found.id, defaults={"due": due}
    )
    messages.success(request, f"{student} has until {due:%Y-%m-%d %H:%M} UTC")
    return redirect("module-report", found.id)


@instructors
@require_POST
def release(request: HttpRequest, module: str) -> HttpResponse:
    found = _unit(module)
    if found.due is None or datetime.now(UTC) <= found.due:
        messages.error(
            request,
            f"{found.id} is not past its due date: release its solution after it",
        )
    else:
        Release.objects.get_or_create(
            module=found.id, defaults={"released_at": datetime.now(UTC)}
        )
        messages.success(
            request,
            f"the {found.id} solution is open to students past their own due date",
        )
    return redirect("module-report", found.id)


@instructors
def export(request: HttpRequest, kind: str) -> HttpResponse:
    from mlopslab.course.exports import FORMATS, Format
    from mlopslab.course.exports import export as render_export
    from mlopslab.course.gradebook import Gradebook

    if kind not in FORMATS:
        raise Http404(f"no export {kind!r}")
    book = Gradebook()  # the database this server already uses
    text = render_export(
        book,
        settings.ATTEMPT_POLICY,
        cast(Format, kind),
        [u.id for u in units()],
    )
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="gradebook-{kind}.csv"'
    return response


def _latest_submissions(module: str) -> list[Submission]:
    latest: dict[str, Submission] = {}
    for sub in Submission.objects.filter(module=module).order_by("id"):
        latest[sub.student] = sub
    return list(latest.values())


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise CourseError(
            f"{text!r} is not a date and time", "write e.g. 2026-12-14T23:59"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _unit(module: str) -> Unit:
    try:
        return unit(module)
    except CourseError as exc:
        raise Http404(exc.one_line()) from exc
