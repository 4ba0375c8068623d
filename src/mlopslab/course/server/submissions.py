"""Assignments handed in: checked at the door, stored outside anything served.

An upload must be a zip or a git bundle of a sensible size; a zip whose
entries would unpack to more than the grader's copy can hold is refused here,
before it is queued. The grader unpacks it later, in its own safe way.
"""

from __future__ import annotations

import hashlib
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from mlopslab.course.classroom.models import Submission
from mlopslab.course.server.deadlines import due_for, lateness
from mlopslab.course.server.handgrading import answers
from mlopslab.course.server.syllabus import unit
from mlopslab.course.server.tasks import enqueue
from mlopslab.errors import CourseError

UPLOAD_LIMIT = 20 * 2**20  # bytes: a repository with its data files fits
UNPACKED_LIMIT = 512 * 2**20  # bytes a zip may unpack to
ENTRY_LIMIT = 20_000  # files in a zip
BUSY = ("queued", "running")
BUNDLE_HEADS = (b"# v2 git bundle\n", b"# v3 git bundle\n")
ZIP_HEADS = (b"PK\x03\x04", b"PK\x05\x06")


def accept(student: str, module_id: str, upload: UploadedFile) -> Submission:
    """Store the upload and queue it for grading; CourseError says what is wrong."""
    module = unit(module_id)
    if module.policy is None:
        raise CourseError(
            f"the module {module_id} has no graded assignment", "pick another module"
        )
    waiting = Submission.objects.filter(student=student, status__in=BUSY).first()
    if waiting is not None:  # one at a time: nobody fills the graders' queue
        raise CourseError(
            f"your submission {waiting.pk} ({waiting.module}) is {waiting.status}",
            "wait for its grade, then hand in again",
        )
    kind = _check(upload)
    folder = Path(settings.UPLOADS)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{uuid.uuid4().hex}.{kind}"
    digest = _store(upload, folder / name)
    with transaction.atomic():
        submission = Submission.objects.create(
            student=student,
            module=module.id,
            uploaded_at=datetime.now(UTC),
            filename=name,
            sha256=digest,
            size=upload.size or 0,
        )
        enqueue(submission)
    return submission


def _check(upload: UploadedFile) -> str:
    if (upload.size or 0) > UPLOAD_LIMIT:
        raise CourseError(
            f"the upload is {(upload.size or 0) / 2**20:.1f} MB",
            f"hand in at most {UPLOAD_LIMIT // 2**20} MB: leave out data and"
            " the workspace (.mlopslab)",
        )
    head = upload.read(16)
    upload.seek(0)
    if head.startswith(BUNDLE_HEADS):
        return "bundle"
    if head.startswith(ZIP_HEADS):
        _check_zip(upload)
        return "zip"
    raise CourseError(
        "the upload is neither a zip file nor a git bundle",
        "upload a .zip of your repository, or `git bundle create work.bundle --all`",
    )


def _check_zip(upload: UploadedFile) -> None:
    try:
        with zipfile.ZipFile(upload) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CourseError(
            f"the zip file cannot be read ({exc})", "make the zip again and upload it"
        ) from exc
    finally:
        upload.seek(0)
    unpacked = sum(entry.file_size for entry in entries)
    if len(entries) > ENTRY_LIMIT or unpacked > UNPACKED_LIMIT:
        raise CourseError(
            f"the zip would unpack to {len(entries)} files and"
            f" {unpacked / 2**20:.0f} MB",
            f"hand in at most {ENTRY_LIMIT} files and"
            f" {UNPACKED_LIMIT // 2**20} MB unpacked",
        )


def _store(upload: UploadedFile, path: Path) -> str:
    digest = hashlib.sha256()
    partial = path.with_suffix(".partial")
    with partial.open("xb") as out:
        for chunk in upload.chunks():
            digest.update(chunk)
            out.write(chunk)
    partial.chmod(0o600)
    partial.replace(path)
    return digest.hexdigest()


def feedback(found: Submission) -> dict[str, Any]:
    """What its student may see of a submission: hidden checks never, and
    after-due-date checks only after their own due date."""
    module = unit(found.module)
    due = due_for(found.student, module)
    past_due = due is None or datetime.now(UTC) > due
    shown = [
        r
        for r in found.results
        if r["visibility"] == "visible"
        or (r["visibility"] == "after_due_date" and past_due)
    ]
    return {
        "s": found,
        "unit": module,
        "shown": shown,
        "withheld": len(found.results) - len(shown),
        "late": lateness(found.student, module, found.uploaded_at),
        "busy": found.status in {"queued", "running"},
        "answers": answers(found),
    }
