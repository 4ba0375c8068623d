"""The grading job: one submission through the existing sandboxed grader.

Jobs are rows of the class database (django-tasks' database backend), so a
submission survives a server restart; `workers.py` runs them and runs again
those whose worker died. A job may run twice over its life (a regrade, a dead
worker), never twice at once: the queue hands a row to one worker only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django_tasks import task

from mlopslab.course.autograder import grade, gradescope_results
from mlopslab.course.checks_loader import load_checks
from mlopslab.course.classroom.models import Attempt, Submission
from mlopslab.course.server.deadlines import due_for
from mlopslab.course.server.handgrading import rescore
from mlopslab.course.server.syllabus import unit
from mlopslab.errors import MlopsLabError, first_line


@task(queue_name="grading")
def grade_submission(submission_id: int) -> str:
    submission = _take(submission_id)
    try:
        _grade(submission)
    except MlopsLabError as exc:  # a broken check or course: the instructor's to fix
        _fail(submission, exc.one_line())
    except Exception as exc:
        _fail(submission, f"the grader failed: {first_line(exc)}")
        raise
    return submission.status


def _take(submission_id: int) -> Submission:
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        submission.status = "running"
        submission.runs += 1
        submission.save(update_fields=["status", "runs"])
    return submission


def _grade(submission: Submission) -> None:
    module = unit(submission.module)
    assert module.policy is not None, "only graded modules take uploads"
    policy = module.policy.model_copy(
        update={"due": due_for(submission.student, module)}
    )
    graded = grade(
        submission.student,
        path_of(submission),
        module.folder,
        load_checks(module.folder, hidden=True),
        policy,
        submitted=submission.uploaded_at,
    )
    report = gradescope_results(graded)
    with transaction.atomic():
        if submission.attempt_id is not None:  # a regrade replaces the old row
            Attempt.objects.filter(pk=submission.attempt_id).delete()
        submission.attempt = Attempt.objects.create(
            student=submission.student,
            module=submission.module,
            kind="assignment",
            answers={"submission": submission.pk},
            details={r.check.id: r.score for r in graded.results},
            score=graded.score,
            max_score=graded.max_score,
            started_at=submission.uploaded_at.timestamp(),
            finished_at=datetime.now(UTC).timestamp(),
        )
        submission.score = graded.score
        submission.max_score = graded.max_score
        submission.days_late = graded.days_late
        submission.kept = graded.kept
        submission.summary = graded.problem or graded.public_line()
        submission.results = [
            {**test, "id": result.check.id}
            for test, result in zip(report["tests"], graded.results, strict=True)
        ]
        submission.written = graded.written
        submission.status = "graded"
        submission.graded_at = datetime.now(UTC)
        submission.save()
        rescore(submission)  # with the instructor's points for written answers


def _fail(submission: Submission, why: str) -> None:
    submission.status = "failed"
    submission.summary = why
    submission.graded_at = datetime.now(UTC)
    submission.save(update_fields=["status", "summary", "graded_at"])


def enqueue(submission: Submission) -> None:
    """Queue (again) for grading, when the surrounding transaction commits."""
    submission.status = "queued"
    submission.save(update_fields=["status"])
    transaction.on_commit(lambda: grade_submission.enqueue(submission.pk))


def path_of(submission: Submission) -> Path:
    return Path(settings.UPLOADS) / submission.filename
