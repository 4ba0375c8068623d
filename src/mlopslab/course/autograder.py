"""Grading a class: submissions in, Gradescope results and gradebook rows out.

A submission is a folder, a .zip or a git bundle holding a copy of the
project. Each is unpacked into a private folder, graded in the sandbox against
the module's public and hidden checks, and given a `results.json` in
Gradescope's autograder schema. A malformed submission is "ungradable" with its
reason, never a crash; one submission's failure never stops the class.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlopslab.course.checks_loader import load_checks
from mlopslab.course.copies import Ungradable, private_copy
from mlopslab.course.grading import Check, CheckResult, run_checks
from mlopslab.course.sandbox import Sandbox
from mlopslab.course.variants import Entry, draw
from mlopslab.course.written import Written, read_answers
from mlopslab.errors import CourseError

__all__ = ["Graded", "Policy", "Ungradable", "grade", "grade_class"]
BUDGET = 900.0  # seconds: one submission's checks, all together


class Policy(BaseModel):
    """An assignment's due date and late policy (`assignment/assignment.yaml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str
    due: datetime | None = None
    late_penalty_per_day: float = Field(0.1, ge=0, le=1)
    late_days_allowed: int = Field(3, ge=0)
    # Each student's own numbers (variants.py): what the checks plant and expect.
    variant: dict[str, Entry] = Field(default_factory=dict)
    # Questions answered in ANSWERS.md, graded by hand (written.py).
    written: list[Written] = Field(default_factory=list)

    @field_validator("written")
    @classmethod
    def _one_of_each(cls, written: list[Written]) -> list[Written]:
        ids = [q.id for q in written]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"written question ids used twice: {', '.join(twice)}")
        return written

    @field_validator("due")
    @classmethod
    def _utc_unless_said(cls, due: datetime | None) -> datetime | None:
        return due.replace(tzinfo=UTC) if due and due.tzinfo is None else due

    def multiplier(self, submitted: datetime | None) -> tuple[int, float]:
        """(days late, share of the score kept) for a submission time."""
        if self.due is None or submitted is None or submitted <= self.due:
            return 0, 1.0
        days = math.ceil((submitted - self.due).total_seconds() / 86400)
        if days > self.late_days_allowed:
            return days, 0.0
        return days, max(0.0, 1.0 - self.late_penalty_per_day * days)


@dataclass(frozen=True)
class Graded:
    student: str
    module: str
    results: list[CheckResult]
    seconds: float
    isolation: list[str]
    days_late: int = 0
    kept: float = 1.0
    problem: str | None = None  # set when ungradable
    alarm: str | None = None  # the grader's own trouble (a copy left behind)
    written: dict[str, str] = field(default_factory=dict)  # answers, graded by hand

    @property
    def max_score(self) -> float:
        return sum(r.check.points for r in self.results)

    @property
    def raw_score(self) -> float:
        return sum(r.score for r in self.results)

    @property
    def score(self) -> float:
        return round(self.raw_score * self.kept, 4)

    def public_line(self) -> str:
        shown = [r for r in self.results if r.check.public]
        passed = sum(r.passed for r in shown)
        hidden = len(self.results) - len(shown)
        line = f"public checks passed: {passed}/{len(shown)}"
        return line + (f"; {hidden} hidden checks graded" if hidden else "")


def policy_of(module_dir: Path) -> Policy:
    path = module_dir / "assignment" / "assignment.yaml"
    try:
        return Policy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CourseError(f"cannot read {path}: {first}", "fix that file") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "the file"
        raise CourseError(f"{path}: {where}: {error['msg']}", "fix that file") from exc


def grade(
    student: str,
    submission: Path,
    module_dir: Path,
    checks: list[Check],
    policy: Policy,
    submitted: datetime | None = None,
    budget: float = BUDGET,
) -> Graded:
    """One submission against `checks`, in a private copy that is removed after."""
    started = time.monotonic()
    hidden = (module_dir.parent,)
    with private_copy(submission, hidden) as copy:
        if copy.problem is None:
            # As handed in: before any of the learner's code runs on the copy.
            written = read_answers(copy.folder, policy.written)
            sandbox = Sandbox(copy.folder, hidden=hidden)
            values = draw(policy.variant, student, module_dir.name)
            results = run_checks(sandbox, checks, budget, values)
    if copy.problem is not None:
        graded = _ungradable(student, module_dir, checks, str(copy.problem), started)
        return replace(graded, alarm=copy.alarm)
    days, kept = policy.multiplier(submitted)
    return Graded(
        student,
        module_dir.name,
        results,
        time.monotonic() - started,
        [*sandbox.isolation, copy.disk_fence, f"at most {budget:g} s per submission"],
        days,
        kept,
        alarm=copy.alarm,
        written=written,
    )


def grade_class(
    submissions: list[tuple[str, Path, datetime | None]],
    module_dir: Path,
    jobs: int,
    due: datetime | None = None,
    on_graded: Callable[[Graded], None] | None = None,
    budget: float = BUDGET,
) -> list[Graded]:
    """Every submission, `jobs` at a time (each one mostly waits on its sandbox).

    `on_graded` sees each submission as soon as it is graded, so one that runs
    long never holds back the others' results.
    """
    checks = load_checks(module_dir, hidden=True)
    policy = policy_of(module_dir)
    if due is not None:
        policy = policy.model_copy(update={"due": due})
    if not Sandbox(module_dir).own_process_limit:
        jobs = 1  # a shared RLIMIT_NPROC: one fork bomb would starve the others
    done: dict[str, Graded] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(
                grade, student, path, module_dir, checks, policy, when, budget
            ): student
            for student, path, when in submissions
        }
        for future in as_completed(futures):
            student = futures[future]
            done[student] = _finished(future, student, module_dir, checks)
            if on_graded is not None:
                on_graded(done[student])
    return [done[student] for student, _, _ in submissions]


def _finished(
    future: Future[Graded], student: str, module_dir: Path, checks: list[Check]
) -> Graded:
    """A submission's grade; a grader fault scores it ungradable, not the class."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - one submission never stops the class
        reason = f"the grader failed on it ({exc!r}); grade it again"
        return _ungradable(student, module_dir, checks, reason, time.monotonic())


def find_submissions(folder: Path) -> list[tuple[str, Path, datetime | None]]:
    """Each entry of `folder` is one student's: NAME/, NAME.zip or NAME.bundle.

    Submission times come from `submitted.csv` (student,ISO time), as the LMS
    recorded them; without one, no late policy applies (file times change
    with every copy and download, so they are never used).
    """
    if not folder.is_dir():
        raise CourseError(
            f"no submissions folder {folder}",
            "give a folder of NAME/, NAME.zip or NAME.bundle entries",
        )
    times = _submitted_times(folder / "submitted.csv")
    found: list[tuple[str, Path, datetime | None]] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name == "submitted.csv":
            continue
        student = entry.name.removesuffix(".zip").removesuffix(".bundle")
        found.append((student, entry, times.get(student)))
    if not found:
        raise CourseError(f"{folder} holds no submissions", "add one entry per student")
    names = [student for student, _, _ in found]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise CourseError(
            f"two submissions for {', '.join(twice)} in {folder}",
            "keep one entry (folder, .zip or .bundle) per student",
        )
    return found


def _submitted_times(path: Path) -> dict[str, datetime]:
    if not path.is_file():
        return {}
    times = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(f"cannot read {path}: {exc}", "save it as UTF-8 CSV") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("student,"):
            continue
        try:
            student, stamp = (part.strip() for part in line.split(",", 1))
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError as exc:
            raise CourseError(
                f"{path} line {number} is not student,ISO-time: {line}",
                "write e.g. ana,2026-12-01T10:00:00Z",
            ) from exc
        times[student] = when if when.tzinfo else when.replace(tzinfo=UTC)
    return times


def gradescope_results(graded: Graded) -> dict[str, Any]:
    """Gradescope's autograder `results.json` for one submission."""
    tests = [
        {
            "name": r.check.name,
            "number": str(number),
            "score": r.score,
            "max_score": r.check.points,
            "status": "passed" if r.passed else "failed",
            "visibility": r.check.visibility,
            "output": r.output,
            "execution_time": round(r.seconds, 2),
        }
        for number, r in enumerate(graded.results, start=1)
    ]
    output = graded.problem or graded.public_line()
    if graded.days_late:
        output += (
            f"; {graded.days_late} day(s) late: {graded.kept:.0%} of "
            f"{graded.raw_score:g} kept"
        )
    return {
        "score": graded.score,
        "execution_time": round(graded.seconds, 2),
        "output": output
        + ("\nsandbox: " + "; ".join(graded.isolation) if graded.isolation else ""),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _ungradable(
    student: str, module_dir: Path, checks: list[Check], reason: str, started: float
) -> Graded:
    results = [
        CheckResult(c, 0.0, f"not run: the submission is ungradable ({reason})", 0.0)
        for c in checks
    ]
    return Graded(
        student,
        module_dir.name,
        results,
        time.monotonic() - started,
        [],
        problem=f"ungradable: {reason}",
    )
