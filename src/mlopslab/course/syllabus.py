"""A syllabus from course.yaml: what to read, take and hand in each week.

A plan (`plans:` in course.yaml) says which week each module is taught in and
how many days after that week begins its quiz and assignment are due. With a
start date the weeks get dates; without one (the course site) they keep their
numbers. The weights (`weights:`) split the final grade: quizzes and
assignments evenly over the modules the plan teaches, where an assignment
counts only if it is graded (its module has `assignment/checks.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from mlopslab.course.content import Course, Module, Plan, Weights
from mlopslab.course.exercises import find
from mlopslab.errors import CourseError


@dataclass(frozen=True)
class Week:
    number: int
    starts: date | None
    modules: tuple[Module, ...]
    capstone_due: bool

    def hours(self) -> float:
        return sum(study_hours(m) for m in self.modules)


def study_hours(module: Module) -> float:
    """Lesson, exercises, quiz and assignment, in hours."""
    minutes = module.meta.estimated_minutes + exercise_minutes(module)
    return (minutes + module.quiz_minutes) / 60 + module.assignment_hours


def exercise_minutes(module: Module) -> int:
    return sum(f.exercise.minutes for f in find(module.body) if f.exercise)


def graded(module: Module) -> bool:
    """An assignment with checks is graded; one without is practice."""
    return (module.folder / "assignment" / "checks.py").is_file()


def parse_start(text: str) -> date:
    """A start date from YYYY-MM-DD, or a CourseError that says so."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CourseError(
            f"--start {text!r} is not a date", "give it as YYYY-MM-DD, e.g. 2027-02-01"
        ) from None


def weeks_of(course: Course, plan: Plan, start: date | None) -> list[Week]:
    by_id = {m.id: m for m in course.modules}
    weeks = []
    for number in range(1, plan.weeks + 1):
        taught = tuple(by_id[i] for i, w in plan.modules.items() if w == number)
        begins = start + timedelta(weeks=number - 1) if start else None
        weeks.append(Week(number, begins, taught, plan.capstone == number))
    return weeks


def render(
    course: Course, plan: Plan, start: date | None = None, site: bool = False
) -> str:
    """The syllabus as Markdown; `site`: lessons link to their pages."""
    weights = course.weights
    if weights is None:
        raise CourseError(
            f"{course.root / 'course.yaml'} has no weights",
            "add weights: quizzes, assignments and capstone, in percent",
        )
    weeks = weeks_of(course, plan, start)
    taught = [m for week in weeks for m in week.modules]
    lines = [f"# {course.title}: {plan.weeks}-week syllabus", ""]
    lines += [_opening(plan, start), "", *_grading(weights, taught, plan, start)]
    lines += ["", "## Week by week", ""]
    for week in weeks:
        lines += [*_week(week, plan, site), ""]
    lines += _hours(course, taught)
    optional = [m for m in course.modules if m not in taught]
    if optional:
        lines += ["", "## Not in this plan", ""]
        lines += [
            f"- {m.id}: {m.meta.title} (for those who want more)" for m in optional
        ]
    return "\n".join(lines).rstrip() + "\n"


def _opening(plan: Plan, start: date | None) -> str:
    when = (
        f"Week 1 begins on {start:%A %d %B %Y}."
        if start
        else "Weeks are numbered; `mlopslab course syllabus --start DATE` dates them."
    )
    return (
        f"{when} Each module's quiz and assignment are due {plan.due_days} days "
        "after its week begins, at 23:59."
    )


def _grading(
    weights: Weights, taught: list[Module], plan: Plan, start: date | None
) -> list[str]:
    handed = [m for m in taught if graded(m)]
    practice = [m.id for m in taught if not graded(m)]
    capstone = "no capstone in this plan"
    if plan.capstone is not None:
        capstone = f"handed in by {_capstone_due(plan.capstone, start)}"
    rows = [
        _share("Quizzes", weights.quizzes, taught, "on the course server"),
        _share("Assignments", weights.assignments, handed, "graded in a sandbox"),
        f"| Capstone | {weights.capstone} % | `capstone.md`, {capstone} |",
    ]
    lines = ["## Grading", "", "| part | weight | how |", "|---|---|---|", *rows]
    if practice:
        lines += ["", f"Practice assignments (not graded): {', '.join(practice)}."]
    return lines


def _share(part: str, weight: int, modules: list[Module], how: str) -> str:
    if not modules:
        return f"| {part} | {weight} % | none in this plan |"
    each = weight / len(modules)
    return f"| {part} | {weight} % | {len(modules)} x {each:.3g} % ({how}) |"


def _week(week: Week, plan: Plan, site: bool) -> list[str]:
    title = f"### Week {week.number}"
    if week.starts:
        title += f" (from {week.starts:%a %d %b})"
    lines = [title, ""]
    if not week.modules:
        lines.append("- Capstone work.")
    for module in week.modules:
        due = _due(week, plan)
        lesson = f"lesson {module.meta.estimated_minutes} min"
        name = f"{module.id}: {module.meta.title}"
        if site:
            name = f"[{name}](lessons/{module.id}.md)"
        count = len([f for f in find(module.body) if f.exercise])
        exercises = f", {count} exercises" if count else ""
        lines.append(f"- **Read** {name} ({lesson}{exercises}).")
        lines.append(
            f"- **Take** the {module.id} quiz ({module.quiz_minutes} min), {due}."
        )
        kind = "graded" if graded(module) else "practice, not graded"
        hours = f"{module.assignment_hours:g} h"
        lines.append(
            f"- **Hand in** the {module.id} assignment ({kind}, {hours}), {due}."
        )
    if week.capstone_due:
        by = (
            f"{_last_day(week.starts):%a %d %b}"
            if week.starts
            else "the end of the week"
        )
        lines.append(f"- **Hand in** the capstone, by {by}.")
    if week.modules:
        lines += ["", f"Study time: about {week.hours():.1f} h."]
    return lines


def _due(week: Week, plan: Plan) -> str:
    if week.starts is None:
        return f"due {plan.due_days} days after the week begins"
    return f"due {week.starts + timedelta(days=plan.due_days):%a %d %b}"


def _capstone_due(number: int, start: date | None) -> str:
    """The last day of the capstone's week."""
    if start is None:
        return f"the end of week {number}"
    return f"{_last_day(start + timedelta(weeks=number - 1)):%a %d %b}"


def _last_day(week_starts: date) -> date:
    return week_starts + timedelta(days=6)


def _hours(course: Course, taught: list[Module]) -> list[str]:
    lines = [
        "## Study hours",
        "",
        "| module | lesson | exercises | quiz | assignment | total |",
        "|---|---|---|---|---|---|",
    ]
    for module in taught:
        lines.append(
            f"| {module.id} | {module.meta.estimated_minutes} min | "
            f"{exercise_minutes(module)} min | "
            f"{module.quiz_minutes} min | {module.assignment_hours:g} h | "
            f"{study_hours(module):.1f} h |"
        )
    core = sum(study_hours(m) for m in course.modules if m.core)
    total = sum(study_hours(m) for m in taught)
    return [
        *lines,
        "",
        f"This plan: about {total:.0f} h, without the capstone. "
        f"The core modules alone: about {core:.0f} h.",
    ]
