"""What the server knows of the course: modules, due dates, quizzes, checks.

Read once per process from the instructor's course folder (`COURSE_ROOT`),
which holds the quiz keys and the hidden checks; students never get it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from mlopslab.course.autograder import Policy, policy_of
from mlopslab.course.content import Course, Module, QuizFile, load_course
from mlopslab.errors import CourseError


@dataclass(frozen=True)
class Unit:
    """One module as the server serves it."""

    id: str
    title: str
    folder: Path
    core: bool
    quiz: QuizFile | None
    policy: Policy | None  # None: the module has no graded assignment
    demos: tuple[str, ...]

    @property
    def due(self) -> datetime | None:
        return self.policy.due if self.policy else None


@functools.cache
def course() -> Course:
    return load_course(Path(settings.COURSE_ROOT))


@functools.cache
def units() -> tuple[Unit, ...]:
    return tuple(_unit(module) for module in course().modules)


def unit(module_id: str) -> Unit:
    """A module by id; CourseError (a 404 page) when there is none."""
    for found in units():
        if found.id == module_id:
            return found
    raise CourseError(f"no module {module_id!r}", "pick one from your home page")


def _unit(module: Module) -> Unit:
    graded = (module.folder / "assignment" / "assignment.yaml").is_file() and (
        module.folder / "instructor"
    ).is_dir()
    quiz = module.quiz
    tagged = quiz.all_questions() if quiz else []
    demos = tuple(dict.fromkeys(q.demo for q in tagged if q.demo))
    return Unit(
        id=module.id,
        title=module.meta.title,
        folder=module.folder,
        core=module.core,
        quiz=quiz,
        policy=policy_of(module.folder) if graded else None,
        demos=demos,
    )
