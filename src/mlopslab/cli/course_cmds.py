"""`mlopslab course list|show|quiz|glossary|progress|site|syllabus|validate|check`.

The learners' commands. The instructor's (grade, gradebook, export) are in
grading_cmds; what both use is in course_context.
"""

from __future__ import annotations

import json
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from mlopslab.cli.context import ConfigOpt, HomeOpt, open_workspace, resolve_config
from mlopslab.cli.course_context import (
    CourseOpt,
    ModuleArg,
    ServerOpt,
    TokenOpt,
    course_root,
    course_server,
    module_folder,
    module_id,
    new_folder,
    open_gradebook,
    print_or_write,
    server_module,
)
from mlopslab.config import Config
from mlopslab.errors import CourseError

if TYPE_CHECKING:
    from mlopslab.course.client import Server
    from mlopslab.course.content import Course, Module, QuizFile
    from mlopslab.course.grading import CheckResult
    from mlopslab.course.quiz import Marked, Shown, Variant

StudentOpt = Annotated[
    str | None,
    typer.Option("--student", help="Your student id: your progress is kept under it."),
]


def _setup(
    config: Path | None, home: Path | None, course: Path | None
) -> tuple[Config, Course]:
    """The resolved config and the loaded course, for one command."""
    cfg = resolve_config(config, home)
    return cfg, _course(cfg, course)


def _course(cfg: Config, flag: Path | None) -> Course:
    from mlopslab.course.content import load_course

    return load_course(course_root(cfg, flag))


def _student(student: str | None, needed_to: str) -> str:
    """The student id; without one, say what this command needed it for."""
    if not student or not student.strip():
        raise CourseError(
            f"a student id is required {needed_to}", "pass --student YOUR_ID"
        )
    return student.strip()


def _module(loaded: Course, given: str) -> Module:
    """The module a MODULE argument names (an id, a number or a unique start)."""
    return loaded.module(module_id([m.id for m in loaded.modules], given))


def list_modules(
    student: StudentOpt = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The modules in order: core or optional, time, and your progress."""
    cfg, loaded = _setup(config, home, course)
    standing = _standing(cfg, loaded, student) if student else {}
    table = Table(title=loaded.title, title_justify="left")
    for column in ("module", "title", "", "time"):
        table.add_column(column)
    if student:
        table.add_column("lesson")
        table.add_column("best quiz" if cfg.course.attempt_policy == "best" else "quiz")
    for module in loaded.modules:
        row = [
            module.id,
            module.meta.title,
            "core" if module.core else "optional",
            f"{module.meta.estimated_minutes} min",
        ]
        if student:
            state = standing[module.id]
            row += ["opened" if state.opened else "-", _score(state.quiz)]
        table.add_row(*row)
    Console(highlight=False).print(table)


def show(
    module: ModuleArg,
    student: StudentOpt = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Read a lesson in the terminal."""
    from mlopslab.course.exercises import as_markdown
    from mlopslab.course.lessons import link_terms, strip_markers

    cfg, loaded = _setup(config, home, course)
    lesson = _module(loaded, module)
    meta = lesson.meta
    body = as_markdown(lesson.body, lesson.folder, solutions=False, collapsible=False)
    body = strip_markers(link_terms(body, lambda term, text: f"**{text}**"))
    console = Console()
    console.print(Markdown(body))
    console.print(
        Markdown("## Resources\n" + "\n".join(r.markdown() for r in meta.resources))
    )
    # A students' copy has no keys: its quiz is taken on the course server.
    where = "--student YOUR_ID" if lesson.quiz else "--server URL --token TOKEN"
    console.print(
        f"\nAbout {meta.estimated_minutes} min. Quiz: "
        f"mlopslab course quiz {lesson.id} {where}",
        highlight=False,
    )
    if student:
        with open_gradebook(cfg) as book:
            book.record_view(_student(student, "to record the lesson"), lesson.id)


def quiz(
    module: ModuleArg,
    student: StudentOpt = None,
    demo: Annotated[
        str | None, typer.Option(help="Only the questions on this demo or video.")
    ] = None,
    answers: Annotated[
        Path | None,
        typer.Option(
            help="Answer from this YAML or JSON file instead of prompts: "
            "`question-id: answer` per line (format above)."
        ),
    ] = None,
    show_only: Annotated[
        bool,
        typer.Option(
            "--show",
            help="Print your questions with their letters, and an answers file "
            "to fill in; records nothing.",
        ),
    ] = False,
    server: ServerOpt = None,
    token: TokenOpt = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Take a module's quiz: your own variant, scored and recorded (on the course
    server, graded, with --server; here, for practice, without).

    \b
    The answers file (--answers FILE), YAML or JSON, maps the question ids
    --show prints to answers in the letters it prints:
      pick-one: B           one choice: one letter
      pick-some: A,C        several choices: letters, comma-separated
      stages: CADB          an ordering: every letter once, in your order
      accuracy: 0.93        a number
      name-it: data drift   a word or phrase
    Letters may be lower case; a question left out or left blank scores 0.
    """
    if server or token or _configured_server(config, home):
        if show_only or answers is not None:
            # On the server every answer is final: never start a graded
            # attempt for a command that promised to record nothing.
            flag = "--show" if show_only else "--answers"
            raise CourseError(
                f"{flag} is for practice here, not for the course server's quiz",
                "answer on the server without it, or unset course.server "
                "(MLOPSLAB_COURSE__SERVER) and leave out --server/--token",
            )
        cfg = resolve_config(config, home)
        chosen = server_module(cfg, course, module)
        _remote_quiz(course_server(cfg, server, token), chosen)
        return
    cfg, loaded = _setup(config, home, course)
    lesson = _module(loaded, module)
    keys = lesson.quiz_keys()  # a students' copy has none: the server scores
    who = _student(
        student,
        "to draw your questions"
        + ("" if show_only else " and record your answers under it"),
    )
    variant = _variant(cfg, lesson, keys, who, demo)
    console = Console(highlight=False)
    if show_only:
        _print_variant(console, variant)
    elif answers is not None:
        started = time.time()
        marked = _mark_file(variant, answers)
        _report(console, marked, from_file=True)
        _record(cfg, variant, marked, started, demo)
    else:
        _quiz_here(console, cfg, variant, demo)


def _variant(
    cfg: Config, lesson: Module, keys: QuizFile, who: str, demo: str | None
) -> Variant:
    """This student's questions for their next attempt (or for a demo's quiz)."""
    from mlopslab.course.quiz import make_variant

    if demo is not None and demo not in {d.id for d in lesson.meta.demos}:
        known = ", ".join(d.id for d in lesson.meta.demos) or "none"
        raise CourseError(f"no demo '{demo}' in {lesson.id}", f"demos: {known}")
    attempt = _attempts_so_far(cfg, who, lesson.id)
    return make_variant(keys, who, lesson.id, demo, attempt)


def _print_variant(console: Console, variant: Variant) -> None:
    """The questions as the prompts show them, then an answers file to fill in."""
    count = len(variant.questions)
    console.print(f"{variant.module}: {count} questions for {variant.student}")
    for number, shown in enumerate(variant.questions, 1):
        _print_question(console, shown, number)
        console.print(f"   answer: {shown.answer_format()}")
    console.print(
        "\nTo answer from a file, fill this in and pass it as --answers FILE "
        "(a blank answer scores 0):\n"
    )
    for shown in variant.questions:
        console.print(f"{shown.id}:", markup=False)


def _quiz_here(
    console: Console, cfg: Config, variant: Variant, demo: str | None
) -> None:
    """Ask each question in the terminal, showing its key once it is answered."""
    started = time.time()
    marked: list[Marked] = []
    try:
        for index, shown in enumerate(variant.questions, 1):
            marked.append(_ask(console, shown, index))
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C, or the input ended
        _stop(cfg, variant, marked, started, demo)
    _record(cfg, variant, marked, started, demo)
    _report(console, marked, from_file=False)


def _stop(
    cfg: Config,
    variant: Variant,
    marked: list[Marked],
    started: float,
    demo: str | None,
) -> NoReturn:
    """End an interrupted quiz, saying whether the attempt counts.

    Each answer showed its key, and the next draw follows the attempts
    recorded: were a quit attempt dropped, starting again would give the same
    questions with their keys already seen. So an attempt with answers counts,
    the unanswered at zero; before the first answer no key was shown, and
    nothing is recorded.
    """
    total = len(variant.questions)
    if not marked:
        typer.echo("\nquiz interrupted before any answer; nothing recorded", err=True)
        raise typer.Exit(130)
    rest = [_unanswered(q) for q in variant.questions[len(marked) :]]
    _record(cfg, variant, marked + rest, started, demo)
    score = sum(m.points for m in marked)
    typer.echo(
        f"\nquiz interrupted after {len(marked)} of {total} answers; this attempt "
        f"counts (you saw those answers' keys): recorded as {score:g}/{total}",
        err=True,
    )
    raise typer.Exit(130)


def _configured_server(config: Path | None, home: Path | None) -> bool:
    return bool(resolve_config(config, home).course.server)


def _remote_quiz(server: Server, module: str) -> None:
    """The graded quiz, taken against the server: it keeps the keys and the
    score; each key and explanation arrives only after its answer is final."""
    console = Console(highlight=False)
    run = server.quiz(module)
    console.print(
        f"{module}: attempt {run['attempt']}"
        + (
            f", {run['left']} attempt(s) left after this one"
            if run["left"] is not None
            else ""
        )
    )
    try:
        points = _remote_questions(console, server, module, run)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C, or the input ended
        typer.echo(
            "\nquiz interrupted; the server keeps the answers you sent: run the "
            "same command to answer the rest",
            err=True,
        )
        raise typer.Exit(130) from None
    console.print(f"\nrecorded on the course server ({points:g} point(s) this sitting)")


def _remote_questions(
    console: Console, server: Server, module: str, run: dict[str, Any]
) -> float:
    """Ask the run's unanswered questions; the points they scored."""
    points = 0.0
    for number, question in enumerate(run["questions"], start=1):
        if question["answered"]:
            continue
        _print_lettered(
            console, number, question["id"], question["prompt"], question["choices"]
        )
        marked = _remote_answer(server, module, run["run"], question)
        points += marked["points"]
        verdict = (
            "right" if marked["points"] == 1 else f"the key is {marked['correct']}"
        )
        console.print(
            f"   {marked['points']:g} point(s): {verdict}. {marked['explanation']}"
        )
    return points


def _remote_answer(
    server: Server, module: str, run: int, question: dict[str, Any]
) -> dict[str, Any]:
    from mlopslab.course.client import Refused

    while True:
        given = typer.prompt(f"Your answer ({question['answer_format']})")
        try:
            return server.answer(module, run, question["id"], given)
        except Refused as exc:
            if exc.status != 400:  # only a malformed answer may be given again
                raise
            typer.echo(exc.one_line())


def _ask(console: Console, shown: Shown, number: int) -> Marked:
    from mlopslab.course.quiz import mark

    _print_question(console, shown, number)
    while True:
        answer = typer.prompt(f"Your answer ({shown.answer_format()})")
        try:
            marked = mark(shown, answer)
        except CourseError as exc:
            console.print(f"[yellow]{exc.one_line()}[/]")
            continue
        _print_mark(console, marked)
        return marked


def _print_question(console: Console, shown: Shown, number: int) -> None:
    _print_lettered(console, number, shown.id, shown.prompt, shown.choices)


def _print_lettered(
    console: Console, number: int, question: str, prompt: str, choices: Any
) -> None:
    """A question with its id and its choices' letters, as answers name them.

    The text is escaped: `[pick-one]` or `df.iloc[[3, 8]]` is not Rich markup.
    """
    from rich.markup import escape

    from mlopslab.course.quiz import LETTERS

    console.print(f"\n[bold]{number}. {escape(f'[{question}]')}[/] {escape(prompt)}")
    for letter, choice in zip(LETTERS, choices, strict=False):
        console.print(f"   {letter}) {escape(choice)}")


def _print_mark(console: Console, marked: Marked) -> None:
    if marked.points == 1:
        verdict = "[green]right[/]"
    elif marked.points > 0:
        verdict = f"[yellow]partly right ({marked.points:.2f})[/]"
    else:
        verdict = f"[red]wrong[/]: the answer is {marked.correct}"
    console.print(f"   {verdict}. {marked.question.explanation}")


def _mark_file(variant: Variant, path: Path) -> list[Marked]:
    from mlopslab.course.quiz import mark

    given = _read_answers(path)
    for question_id in given:
        variant.question(question_id)  # unknown ids fail before anything is scored
    # Left out or left blank (the form --show prints): unanswered, 0 points.
    return [
        _unanswered(q) if given.get(q.id) in (None, "") else mark(q, given[q.id])
        for q in variant.questions
    ]


def _read_answers(path: Path) -> dict[str, Any]:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseError(f"answers file not found: {path}", "check the path") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CourseError(
            f"answers file {path} is not valid YAML or JSON: {first}",
            "write one `question-id: answer` per line (see `course quiz --help`)",
        ) from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise CourseError(
            f"answers file {path} is not a mapping of question ids to answers",
            "write one `question-id: answer` per line (see `course quiz --help`)",
        )
    return raw


def _unanswered(shown: Shown) -> Marked:
    from mlopslab.course.quiz import Marked

    return Marked(shown, "", 0.0, shown.correct_answer())


def _report(console: Console, marked: list[Marked], from_file: bool) -> None:
    if from_file:
        for number, item in enumerate(marked, 1):
            _print_question(console, item.question, number)
            console.print(f"   your answer: {item.given or '(none)'}")
            _print_mark(console, item)
    score = sum(m.points for m in marked)
    console.print(
        f"\nScore: {score:g} / {len(marked)} ({_percent(score, len(marked))})"
    )


def _attempts_so_far(cfg: Config, student: str, module: str) -> int:
    with open_gradebook(cfg) as book:
        return len(book.attempts(student, module, "quiz"))


def _record(
    cfg: Config,
    variant: Variant,
    marked: list[Marked],
    started: float,
    demo: str | None = None,
) -> None:
    from mlopslab.course.gradebook import Attempt

    attempt = Attempt(
        student=variant.student,
        module=variant.module,
        kind="quiz",
        score=sum(m.points for m in marked),
        max_score=float(len(marked)),
        answers={m.question.id: m.given for m in marked},
        details={m.question.id: m.points for m in marked},
        variant_seed=variant.seed,
        demo=demo,
        started_at=started,
    )
    with open_gradebook(cfg) as book:
        book.record_attempt(attempt)


def glossary(
    query: Annotated[
        str | None, typer.Argument(help="A term, or words to search for.")
    ] = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Look up the course's vocabulary."""
    _, loaded = _setup(config, home, course)
    console = Console(highlight=False)
    exact = loaded.term(query) if query else None
    if exact is not None:
        titles = {m.id: m.meta.title for m in loaded.modules}
        console.print(f"[bold]{exact.term}[/]: {exact.definition}")
        console.print(f"  taught in {exact.module} ({titles.get(exact.module, '?')})")
        if exact.related:
            console.print(f"  related: {', '.join(exact.related)}")
        return
    words = (query or "").lower().split()
    found = [
        t
        for t in loaded.glossary
        if all(w in f"{t.term} {t.definition}".lower() for w in words)
    ]
    if not found:
        raise CourseError(
            f"no glossary term matches '{query}'",
            "try fewer words, or `mlopslab course glossary` for every term",
        )
    for term in sorted(found, key=lambda t: t.term.lower()):
        console.print(f"[bold]{term.term}[/]: {term.definition}")


def progress(
    student: StudentOpt = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Your progress: lessons opened, and the quiz and assignment scores that count."""
    cfg, loaded = _setup(config, home, course)
    who = _student(student, "to show whose progress")
    standing = _standing(cfg, loaded, who)
    policy = cfg.course.attempt_policy
    table = Table(
        title=f"{who}: {loaded.title} ({policy} attempt counts)", title_justify="left"
    )
    for column in ("module", "", "lesson", "quiz", "attempts", "assignment"):
        table.add_column(column)
    for module in loaded.modules:
        state = standing[module.id]
        table.add_row(
            module.id,
            "core" if module.core else "optional",
            "opened" if state.opened else "-",
            _score(state.quiz),
            str(state.quiz_attempts),
            _score(state.assignment),
        )
    Console(highlight=False).print(table)


def _standing(cfg: Config, loaded: Course, student: str) -> dict[str, Any]:
    with open_gradebook(cfg) as book:
        rows = book.standing(
            student, [m.id for m in loaded.modules], cfg.course.attempt_policy
        )
    return {row.module: row for row in rows}


def _score(attempt: Any) -> str:
    if attempt is None:
        return "-"
    return f"{attempt.score:g}/{attempt.max_score:g} ({attempt.percent:.0f}%)"


def _percent(score: float, total: int) -> str:
    return f"{100 * score / total:.0f}%" if total else "n/a"


def site(
    out: Annotated[
        Path | None,
        typer.Option(help="Where to build (default WORKSPACE/course-site)."),
    ] = None,
    solutions: Annotated[
        bool,
        typer.Option(
            "--solutions",
            help="The instructor's build: each exercise's solution, folded away.",
        ),
    ] = False,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Build the course website (MkDocs Material) into the workspace."""
    from mlopslab.course.exercises import solutions_folder as exercise_solutions
    from mlopslab.course.site import build_site

    cfg, loaded = _setup(config, home, course)
    target = (
        new_folder(out, "--out") if out else open_workspace(cfg).home / "course-site"
    )
    if solutions and not any(
        exercise_solutions(m.folder).is_dir() for m in loaded.modules
    ):
        raise CourseError(
            f"the course at {loaded.root} has no exercise solutions (a students' copy)",
            "build --solutions from the instructor's checkout",
        )
    index = build_site(loaded, target, solutions)
    with_solutions = " (with solutions: for the instructor)" if solutions else ""
    typer.echo(f"course site built: {index}{with_solutions}")


def syllabus(
    weeks: Annotated[
        int, typer.Option(help="The plan in course.yaml to follow (13 or 3 weeks).")
    ] = 13,
    start: Annotated[
        str | None,
        typer.Option(help="The first day of week 1 (YYYY-MM-DD): dates every week."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the Markdown here instead of printing it."),
    ] = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the syllabus: what to read, take and hand in each week, and the weights."""
    from mlopslab.course.syllabus import parse_start, render

    first = parse_start(start) if start is not None else None
    _, loaded = _setup(config, home, course)
    text = render(loaded, loaded.plan(weeks), first)
    print_or_write(text, out, f"syllabus written: {out} ({weeks} weeks)")


def validate(
    run_lessons: Annotated[
        bool,
        typer.Option(
            "--run-lessons", help="Also run every lesson's `bash run` blocks."
        ),
    ] = False,
    modules: Annotated[
        list[str] | None,
        typer.Argument(help="With --run-lessons: only these modules' lessons."),
    ] = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check the course content against its schema (and optionally run the lessons)."""
    from mlopslab.course.content import read_course
    from mlopslab.course.exercises import find

    if modules and not run_lessons:
        raise CourseError(
            "module names only choose which lessons to run",
            "add --run-lessons, or drop the module names to validate everything",
        )
    cfg = resolve_config(config, home)
    root = course_root(cfg, course)
    loaded, problems = read_course(root)
    problems += _assignment_problems(root)
    problems += _exercise_problems(root, loaded)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems or loaded is None:
        raise CourseError(
            f"{len(problems)} problem(s) in the course at {root}", "fix the lines above"
        )
    count = sum(len(m.quiz.all_questions()) for m in loaded.modules if m.quiz)
    questions = f"{count} questions" if count else "quiz keys withheld"
    exercises = sum(len(find(m.body)) for m in loaded.modules)
    typer.echo(
        f"{root}: {len(loaded.modules)} modules, {questions}, {exercises} exercises, "
        f"{len(loaded.glossary)} glossary terms: valid"
    )
    if run_lessons:
        chosen = [_module(loaded, m) for m in modules] if modules else loaded.modules
        _run_lessons(list(chosen))


def _assignment_problems(root: Path) -> list[str]:
    """Graded modules: their checks load and their assignment.yaml is valid."""
    from mlopslab.course.autograder import policy_of
    from mlopslab.course.checks_loader import load_checks

    problems = []
    for checks in sorted(root.glob("*/assignment/checks.py")):
        module = checks.parent.parent
        for validate in (partial(load_checks, hidden=True), policy_of):
            try:
                validate(module)
            except CourseError as exc:
                problems.append(f"{module.name}: {exc.one_line()}")
    return problems


def _exercise_problems(root: Path, loaded: Course | None) -> list[str]:
    """Each lesson's exercises are valid, and have solutions in this checkout."""
    from mlopslab.course.content import WITHHELD_NOTE
    from mlopslab.course.exercises import problems

    withheld = (root / WITHHELD_NOTE).is_file()
    modules = loaded.modules if loaded is not None else ()
    found = []
    for module in modules:
        found += problems(module.folder / "lesson.md", module.body, withheld)
    return found


def _run_lessons(modules: list[Any]) -> None:
    from mlopslab.course.lessons import explain, run_lesson

    failed = []
    for module in modules:
        with tempfile.TemporaryDirectory(prefix=f"lesson-{module.id}-") as scratch:
            results = run_lesson(module, Path(scratch))
        seconds = sum(r.seconds for r in results)
        bad = [r for r in results if not r.ok]
        status = f"FAILED {explain(bad[0])}" if bad else "ok"
        typer.echo(f"{module.id}: {len(results)} blocks, {seconds:.1f} s: {status}")
        if bad:
            typer.echo(bad[0].output[-2000:], err=True)
            failed.append(module.id)
    if failed:
        raise CourseError(
            f"lessons that did not run: {', '.join(failed)}",
            "fix the blocks shown above",
        )


def check(
    module: ModuleArg,
    path: Annotated[
        Path, typer.Option(help="Your copy of the project (default: here).")
    ] = Path("."),
    student: StudentOpt = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Run an assignment's public checks on your copy, in the grader's sandbox.

    An assignment with its own numbers for each student checks yours: pass the
    student id your instructor grades you under (`course variant` shows them).
    """
    from mlopslab.course.autograder import Policy, grade
    from mlopslab.course.checks_loader import load_checks

    cfg = resolve_config(config, home)
    folder = module_folder(course_root(cfg, course), module)
    module = folder.name
    checks = load_checks(folder, hidden=False)
    spec = _variant_spec(folder)
    who = student or "you"
    if spec:  # the checks plant this student's numbers
        who = _student(student, f"to check {module}: each student has their own")
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"running {len(checks)} public checks of {module} on {path.resolve()}"
    )
    graded = grade(who, path, folder, checks, Policy(title=module, variant=spec))
    _print_checks(console, graded.results)
    if graded.problem:
        console.print(Text(graded.problem, style="red"))
    passed = sum(r.passed for r in graded.results)
    console.print(
        f"public checks passed: {passed}/{len(checks)}; hidden checks run at grading"
    )
    return 0 if passed == len(checks) else 1


def variant(
    module: ModuleArg,
    student: StudentOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print them as one JSON object.")
    ] = False,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Your own numbers for an assignment: what the checks plant and expect of you."""
    from mlopslab.course.variants import describe, draw

    cfg = resolve_config(config, home)
    folder = module_folder(course_root(cfg, course), module)
    spec = _variant_spec(folder)
    if not spec:
        raise CourseError(
            f"{folder.name} is the same for every student",
            "its assignment README has all the numbers",
        )
    who = _student(student, "to draw your numbers")
    values = draw(spec, who, folder.name)
    if as_json:
        typer.echo(json.dumps(values))
        return
    typer.echo(f"{folder.name}, for {who}:")
    for line in describe(values):
        typer.echo(f"  {line}")


def _variant_spec(folder: Path) -> dict[str, Any]:
    """The assignment's `variant` (empty without a graded assignment)."""
    from mlopslab.course.autograder import policy_of

    if not (folder / "assignment" / "assignment.yaml").is_file():
        return {}
    return dict(policy_of(folder).variant)


def _print_checks(console: Console, results: list[CheckResult]) -> None:
    from mlopslab.course.safe_text import plain

    for result in results:
        mark = "[green]✓[/]" if result.passed else "[red]✗[/]"
        console.print(
            f"{mark} {result.check.name} ({result.score:g}/{result.check.points:g}, "
            f"{result.seconds:.1f} s)"
        )
        # What the submission printed is text, never markup or terminal codes.
        console.print(Text("    " + plain(result.output)))


def register(course_app: typer.Typer) -> None:
    """Add the learners' commands to the `mlopslab course` group."""
    course_app.command("list")(list_modules)
    course_app.command()(show)
    course_app.command()(quiz)
    course_app.command()(glossary)
    course_app.command()(progress)
    course_app.command()(site)
    course_app.command()(syllabus)
    course_app.command()(validate)
    course_app.command()(check)
    course_app.command()(variant)
