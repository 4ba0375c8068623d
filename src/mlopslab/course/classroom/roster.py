"""The roster: who is in the class, and their login accounts.

A CSV with a header: `student` (the roster id, also the login name), and
optionally `name`, `role` (student or instructor) and `password`. A line
without a password gets a generated one, returned once so the instructor can
hand it out. The whole file is checked before anything is written (and before
Django is set up, so reading needs no database).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from mlopslab.errors import CourseError

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
COLUMNS = {"student", "name", "role", "password"}


@dataclass(frozen=True)
class Entry:
    student: str
    name: str
    role: str
    password: str  # empty: generate one for a new account, keep an old one's


def read_roster(path: Path) -> list[Entry]:
    """Every line, checked; CourseError names the first bad line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(
            f"cannot read the roster {path}: {exc}", "give a UTF-8 CSV file"
        ) from exc
    rows = csv.DictReader(io.StringIO(text))
    header = set(rows.fieldnames or [])
    if "student" not in header or not header <= COLUMNS:
        raise CourseError(
            f"{path}: line 1: the header is {','.join(rows.fieldnames or [])!r}",
            "use the columns student, and optionally name, role, password",
        )
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        entry = _entry(path, line, row)
        if entry.student in seen:
            raise CourseError(
                f"{path}: line {line}: student {entry.student!r} is also on line"
                f" {seen[entry.student]}",
                "give each student one line",
            )
        seen[entry.student] = line
        entries.append(entry)
    return entries


def _entry(path: Path, line: int, row: dict[str | None, str | None]) -> Entry:
    if None in row:
        raise CourseError(f"{path}: line {line}: too many fields", "quote commas")
    student = (row.get("student") or "").strip()
    role = (row.get("role") or "student").strip() or "student"
    if not ID.match(student):
        raise CourseError(
            f"{path}: line {line}: {student!r} is not a usable student id",
            "use letters, digits and . _ @ + - (at most 64)",
        )
    if role not in {"student", "instructor"}:
        raise CourseError(
            f"{path}: line {line}: role {role!r}", "write student or instructor"
        )
    return Entry(
        student, (row.get("name") or "").strip(), role, row.get("password") or ""
    )


def import_roster(entries: list[Entry]) -> dict[str, str]:
    """Create or update the accounts; return the passwords made for new ones."""
    from django.db import transaction

    made: dict[str, str] = {}
    with transaction.atomic():
        for entry in entries:
            password = _account(entry)
            if password:
                made[entry.student] = password
    return made


def _account(entry: Entry) -> str:
    from django.contrib.auth.models import User

    from mlopslab.course.classroom.models import Member

    user, new = User.objects.get_or_create(username=entry.student)
    password = entry.password or (secrets.token_urlsafe(9) if new else "")
    if password:
        user.set_password(password)
    user.is_staff = entry.role == "instructor"
    user.is_superuser = entry.role == "instructor"
    user.save()
    Member.objects.update_or_create(
        user=user,
        defaults={"student": entry.student, "name": entry.name, "role": entry.role},
    )
    return password if not entry.password else ""
