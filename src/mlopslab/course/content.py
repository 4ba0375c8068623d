"""The course as data: schema, loading and cross-file checks of `course/`.

Every problem is reported as `FILE: FIELD: what is wrong`, and all of them at
once, so an instructor fixes a broken course in one pass.

A students' copy (the wheel's, a release's, a bundle's) holds `WITHHELD.md`
and no `quiz.yaml`: its modules load with `quiz` None. In the instructor's
checkout, without that note, a missing `quiz.yaml` is still a problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import frontmatter
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from mlopslab.course.expressions import evaluate
from mlopslab.errors import CourseError

SLUG = r"^[a-z0-9][a-z0-9-]*$"
UNION_TAGS = {"single", "multiple", "numeric", "text", "order", "question", "pool"}
TERM_LINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")
# Code is not prose: `df.iloc[[3, 8]]` in a code block is not a glossary link.
CODE = re.compile(r"(^```.*?^```|`[^`\n]*`)", re.DOTALL | re.MULTILINE)
# Written into every students' copy of the course (hatch_build.py repeats the
# name): quiz keys are withheld on purpose, not lost.
WITHHELD_NOTE = "WITHHELD.md"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModuleEntry(Strict):
    id: str = Field(pattern=SLUG)
    core: bool
    # Study time beside the lesson's own estimated_minutes, for the syllabus.
    quiz_minutes: int = Field(15, gt=0)
    assignment_hours: float = Field(0, ge=0)


class Weights(Strict):
    """Shares of the final grade, in percent. Quizzes and assignments count
    evenly over the modules a plan teaches."""

    quizzes: int = Field(ge=0)
    assignments: int = Field(ge=0)
    capstone: int = Field(ge=0)

    @model_validator(mode="after")
    def _whole(self) -> Weights:
        total = self.quizzes + self.assignments + self.capstone
        if total != 100:
            raise ValueError(f"the weights add up to {total}, not 100")
        return self


class Plan(Strict):
    """One way to run the course: the week each module is taught in."""

    weeks: int = Field(ge=1, le=52)
    # A module's quiz and assignment are due this many days after its week begins.
    due_days: int = Field(ge=1, le=60)
    modules: dict[str, int] = Field(min_length=1)
    capstone: int | None = Field(None, ge=1)  # the week the capstone is handed in


class CourseFile(Strict):
    title: str = Field(min_length=1)
    modules: list[ModuleEntry] = Field(min_length=1)
    weights: Weights | None = None
    plans: list[Plan] = Field(default_factory=list)


class Resource(Strict):
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")
    why: str = Field(min_length=1)

    def markdown(self) -> str:
        """One list item: the link, then why it is worth the time."""
        return f"- [{self.title}]({self.url}): {self.why}"


class Demo(Strict):
    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)


class LessonMeta(Strict):
    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    core: bool
    objectives: list[str] = Field(min_length=1)
    estimated_minutes: int = Field(gt=0)
    tools: list[str] = Field(default_factory=list)
    demos: list[Demo] = Field(default_factory=list)
    resources: list[Resource] = Field(min_length=1)


class QuestionBase(Strict):
    id: str = Field(pattern=SLUG)
    prompt: str = Field(min_length=1)
    explanation: str = Field(min_length=1)
    demo: str | None = None


class Single(QuestionBase):
    type: Literal["single"]
    options: list[str] = Field(min_length=2)
    answer: int

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> Single:
        _check_index(self.answer, self.options)
        return self


class Multiple(QuestionBase):
    type: Literal["multiple"]
    options: list[str] = Field(min_length=2)
    answer: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _answers_are_options(self) -> Multiple:
        for index in self.answer:
            _check_index(index, self.options)
        if len(set(self.answer)) != len(self.answer):
            raise ValueError("answer lists an option twice")
        return self


class Param(Strict):
    min: float
    max: float
    decimals: int | None = Field(None, ge=0, le=6)

    @model_validator(mode="after")
    def _ordered(self) -> Param:
        if self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    @property
    def integer(self) -> bool:
        return self.decimals is None and self.min.is_integer() and self.max.is_integer()


class Numeric(QuestionBase):
    type: Literal["numeric"]
    params: dict[str, Param] = Field(default_factory=dict)
    answer: float | str
    tolerance: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _answer_computes(self) -> Numeric:
        # Check with the smallest and largest values: a typo or a division by
        # zero shows here, not in front of a student.
        for pick in ("min", "max"):
            values = {name: getattr(p, pick) for name, p in self.params.items()}
            try:
                self.prompt.format(**values)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"prompt cannot be filled from params: {exc}") from exc
            evaluate(self.answer, values)
        return self


class Text(QuestionBase):
    type: Literal["text"]
    accept: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _patterns_compile(self) -> Text:
        for pattern in self.accept:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"accept pattern {pattern!r}: {exc}") from exc
        return self


class Order(QuestionBase):
    type: Literal["order"]
    items: list[str] = Field(min_length=2)


Question = Annotated[
    Single | Multiple | Numeric | Text | Order, Field(discriminator="type")
]


class Pool(Strict):
    pool: str = Field(pattern=SLUG)
    draw: int = Field(1, ge=1)
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _enough(self) -> Pool:
        if self.draw > len(self.questions):
            raise ValueError(
                f"draws {self.draw} of only {len(self.questions)} questions"
            )
        return self


def _item_kind(value: Any) -> str:
    pooled = isinstance(value, Pool) or (isinstance(value, dict) and "pool" in value)
    return "pool" if pooled else "question"


# Dispatch on the `pool` key first, so an error names one kind, not every kind.
QuizItem = Annotated[
    Annotated[Question, Tag("question")] | Annotated[Pool, Tag("pool")],
    Discriminator(_item_kind),
]


class QuizFile(Strict):
    module: str = Field(pattern=SLUG)
    # A graded quiz counts toward the module's grade and allows `attempts`
    # tries (2 unless said); a practice quiz allows any number.
    graded: bool = True
    attempts: int | None = Field(None, ge=1)
    questions: list[QuizItem] = Field(min_length=1)

    @property
    def attempt_limit(self) -> int | None:
        """How many attempts count: None means unlimited (practice)."""
        if self.attempts is not None:
            return self.attempts
        return 2 if self.graded else None

    def all_questions(self) -> list[Single | Multiple | Numeric | Text | Order]:
        found: list[Single | Multiple | Numeric | Text | Order] = []
        for item in self.questions:
            found.extend(item.questions if isinstance(item, Pool) else [item])
        return found


class Term(Strict):
    term: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    module: str = Field(pattern=SLUG)
    related: list[str] = Field(default_factory=list)

    @property
    def anchor(self) -> str:
        return slug(self.term)


class GlossaryFile(Strict):
    terms: list[Term] = Field(min_length=1)


@dataclass(frozen=True)
class Module:
    id: str
    core: bool
    folder: Path
    meta: LessonMeta
    body: str
    quiz: QuizFile | None  # None in a students' copy: the keys stay with the server
    quiz_minutes: int = 15
    assignment_hours: float = 0

    def quiz_keys(self) -> QuizFile:
        """The quiz with its keys, or a CourseError where this copy has none."""
        if self.quiz is None:
            raise CourseError(
                f"this copy of the course carries no quiz keys for {self.id}",
                "take the quiz on the course server "
                f"(`mlopslab course quiz {self.id} --server URL`)",
            )
        return self.quiz


@dataclass(frozen=True)
class Course:
    root: Path
    title: str
    modules: tuple[Module, ...]
    glossary: tuple[Term, ...]
    weights: Weights | None = None
    plans: tuple[Plan, ...] = ()

    def plan(self, weeks: int) -> Plan:
        """The plan for `weeks` weeks, or a CourseError naming the plans there are."""
        for plan in self.plans:
            if plan.weeks == weeks:
                return plan
        known = " and ".join(str(p.weeks) for p in self.plans) or "none"
        raise CourseError(
            f"{self.root / 'course.yaml'} has no {weeks}-week plan (plans: {known})",
            "choose one of those with --weeks, or add a plan to course.yaml",
        )

    def module(self, module_id: str) -> Module:
        for module in self.modules:
            if module.id == module_id:
                return module
        known = ", ".join(m.id for m in self.modules)
        raise CourseError(f"no module '{module_id}'", f"choose one of: {known}")

    def term(self, name: str) -> Term | None:
        wanted = name.strip().lower()
        return next((t for t in self.glossary if t.term.lower() == wanted), None)

    @property
    def capstone(self) -> Path | None:
        path = self.root / "capstone.md"
        return path if path.is_file() else None


def term_links(body: str) -> list[re.Match[str]]:
    """The `[[term]]` links of a lesson, outside code."""
    return [match for part in prose(body) for match in TERM_LINK.finditer(part)]


def prose(body: str) -> list[str]:
    """The parts of a Markdown body that are not code (fenced or inline)."""
    return CODE.split(body)[::2]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def load_course(root: Path) -> Course:
    """The whole course, or a CourseError listing every problem found."""
    course, problems = read_course(root)
    if problems or course is None:
        raise CourseError(
            f"the course in {root} has {len(problems)} problem(s): {problems[0]}",
            "run `mlopslab course validate` to see them all",
        )
    return course


def read_course(root: Path) -> tuple[Course | None, list[str]]:
    """Load and cross-check everything; return what loaded and every problem."""
    problems: list[str] = []
    course_file = _parse(root / "course.yaml", CourseFile, problems)
    glossary = _parse(root / "glossary.yaml", GlossaryFile, problems)
    if course_file is None:
        return None, problems
    modules = []
    withheld = (root / WITHHELD_NOTE).is_file()
    for entry in course_file.modules:
        module = _read_module(root, entry, problems, withheld)
        if module is not None:
            modules.append(module)
    terms = tuple(glossary.terms) if glossary else ()
    course = Course(
        root,
        course_file.title,
        tuple(modules),
        terms,
        course_file.weights,
        tuple(course_file.plans),
    )
    problems.extend(_cross_checks(course, course_file, root))
    return course, problems


def _read_module(
    root: Path, entry: ModuleEntry, problems: list[str], withheld: bool
) -> Module | None:
    folder = root / entry.id
    if not folder.is_dir():
        problems.append(
            f"{root / 'course.yaml'}: modules: unknown module '{entry.id}' "
            f"(no folder {folder})"
        )
        return None
    lesson = folder / "lesson.md"
    meta, body = None, ""
    try:
        post = frontmatter.load(lesson)
        body = post.content
        meta = _validate(lesson, LessonMeta, post.metadata, problems)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{lesson}: {_reason(exc)}")
    keys = folder / "quiz.yaml"
    # Without keys on purpose (a students' copy), the module still loads.
    needs_quiz = keys.exists() or not withheld
    quiz = _parse(keys, QuizFile, problems) if needs_quiz else None
    if not (folder / "assignment" / "README.md").is_file():
        problems.append(f"{folder / 'assignment' / 'README.md'}: missing")
    if meta is None or (needs_quiz and quiz is None):
        return None
    return Module(
        entry.id,
        entry.core,
        folder,
        meta,
        body,
        quiz,
        entry.quiz_minutes,
        entry.assignment_hours,
    )


def _cross_checks(course: Course, course_file: CourseFile, root: Path) -> list[str]:
    problems: list[str] = []
    ids = [entry.id for entry in course_file.modules]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(
            f"{root / 'course.yaml'}: modules: '{duplicate}' is listed twice"
        )
    terms = {t.term.lower() for t in course.glossary}
    for term in course.glossary:
        where = f"{root / 'glossary.yaml'}: terms[{term.term}]"
        if term.module not in ids:
            problems.append(f"{where}.module: unknown module '{term.module}'")
        problems.extend(
            f"{where}.related: '{r}' is not a term"
            for r in term.related
            if r.lower() not in terms
        )
    for module in course.modules:
        problems.extend(_module_checks(module, terms))
    problems.extend(_plan_checks(course_file, root / "course.yaml"))
    return problems


def _plan_checks(course_file: CourseFile, where: Path) -> list[str]:
    """Each plan fits its weeks, teaches every core module and names real ones."""
    problems = []
    known = {entry.id: entry.core for entry in course_file.modules}
    lengths = [plan.weeks for plan in course_file.plans]
    for weeks in sorted({w for w in lengths if lengths.count(w) > 1}):
        problems.append(f"{where}: plans: two {weeks}-week plans")
    for plan in course_file.plans:
        at = f"{where}: plans[{plan.weeks} weeks]"
        for module, week in plan.modules.items():
            if module not in known:
                problems.append(f"{at}.modules: unknown module '{module}'")
            if not 1 <= week <= plan.weeks:
                problems.append(
                    f"{at}.modules.{module}: week {week} is not in weeks 1-{plan.weeks}"
                )
        missing = [m for m, core in known.items() if core and m not in plan.modules]
        if missing:
            problems.append(f"{at}.modules: core modules missing: {', '.join(missing)}")
        if plan.capstone is not None and plan.capstone > plan.weeks:
            problems.append(
                f"{at}.capstone: week {plan.capstone} is not in weeks 1-{plan.weeks}"
            )
    if course_file.plans and course_file.weights is None:
        problems.append(f"{where}: weights: missing (the plans' syllabi need them)")
    return problems


def _module_checks(module: Module, terms: set[str]) -> list[str]:
    lesson, quiz = module.folder / "lesson.md", module.folder / "quiz.yaml"
    problems = []
    if module.meta.id != module.id:
        problems.append(f"{lesson}: id: '{module.meta.id}' is not the folder name")
    if module.meta.core != module.core:
        problems.append(
            f"{lesson}: core: {module.meta.core} disagrees with course.yaml"
        )
    for match in term_links(module.body):
        if match.group(1).strip().lower() not in terms:
            problems.append(f"{lesson}: [[{match.group(1)}]]: not in glossary.yaml")
    if module.quiz is None:
        return problems
    if module.quiz.module != module.id:
        problems.append(f"{quiz}: module: '{module.quiz.module}' is not '{module.id}'")
    demos = {demo.id for demo in module.meta.demos}
    seen: set[str] = set()
    for question in module.quiz.all_questions():
        if question.id in seen:
            problems.append(f"{quiz}: questions: id '{question.id}' is used twice")
        seen.add(question.id)
        if question.demo is not None and question.demo not in demos:
            problems.append(
                f"{quiz}: {question.id}.demo: '{question.demo}' is not a demo "
                f"in the lesson's front matter"
            )
    return problems


def _parse(path: Path, model: type[Any], problems: list[str]) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: {_reason(exc)}")
        return None
    return _validate(path, model, raw, problems)


def _validate(path: Path, model: type[Any], raw: Any, problems: list[str]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{path}: {_field(raw, error['loc'])}: {message}")
    return None


def _field(raw: Any, loc: tuple[int | str, ...]) -> str:
    """A readable field path; question ids instead of list positions."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if key in UNION_TAGS or str(key).startswith(("function-", "tagged-union")):
            continue  # pydantic's name for the union member it tried
        if isinstance(key, int):
            item = node[key] if isinstance(node, list) and key < len(node) else None
            named = isinstance(item, dict) and (item.get("id") or item.get("pool"))
            parts.append(f"[{named}]" if named else f"[{key}]")
            node = item
        elif isinstance(node, dict) and key in node:
            parts.append(f".{key}")
            node = node[key]
        else:
            parts.append(f".{key}")
            node = None
    return "".join(parts).lstrip(".") or "(file)"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "missing"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _check_index(index: int, options: list[str]) -> None:
    if not 0 <= index < len(options):
        raise ValueError(
            f"answer {index} is not an option (0 to {len(options) - 1}, as written)"
        )
