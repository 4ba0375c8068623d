"""`mlopslab course ...` as a learner and an instructor use it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlopslab.course.content import load_course
from mlopslab.course.quiz import LETTERS, make_variant
from tests.browser import needs_browser, rendered_dom
from tests.conftest import CliResult
from tests.course_fixture import write_course
from tests.test_cli import one_line_error

Cli = Callable[..., CliResult]


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return write_course(tmp_path / "course")


def right_answers(course: Path, student: str) -> dict[str, object]:
    """The key for this student's variant, as an answers file would give it."""
    variant = make_variant(
        load_course(course).module("0-intro").quiz_keys(), student, "0-intro"
    )
    answers: dict[str, object] = {}
    for shown in variant.questions:
        if shown.type == "text":
            answers[shown.id] = "data drift"
        elif shown.type == "numeric":
            wrong, n = map(int, re.findall(r"\d+", shown.prompt))
            answers[shown.id] = round((n - wrong) / n, 4)
        else:
            answers[shown.id] = shown.correct_answer()
    return answers


def test_quiz_from_an_answers_file_is_scored_explained_and_recorded(
    cli: Cli, course: Path, tmp_path: Path
) -> None:
    answers = right_answers(course, "s123")
    answers["pick-some"] = str(answers["pick-some"]).split(",")[0]
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    result = cli(
        "course",
        "quiz",
        "0-intro",
        "--student",
        "s123",
        "--answers",
        path,
        "--course",
        course,
    )
    assert result.code == 0, result.err
    assert "Score: 5.5 / 6 (92%)" in result.out
    assert "partly right (0.50)" in result.out
    assert "Anything that sees the test set leaks." in result.out  # the explanation
    progress = cli("course", "progress", "--student", "s123", "--course", course)
    assert "5.5/6 (92%)" in progress.out


def test_quiz_interactively_in_the_terminal(course: Path, tmp_path: Path) -> None:
    answers = right_answers(course, "s9")
    typed = [str(answers[q]) for q in answers]
    typed.insert(0, "Q")  # a malformed answer is asked again, not fatal
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlopslab.cli.main",
            "course",
            "quiz",
            "0-intro",
            "--student",
            "s9",
            "--course",
            str(course),
        ],
        input="\n".join(typed) + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "is not one letter" in done.stdout
    assert "Score: 6 / 6 (100%)" in done.stdout
    # No key is shown before its question is answered: the first key follows
    # the first "Your answer" prompt.
    first_key = done.stdout.index("right.")
    assert done.stdout.index("Your answer") < first_key


def test_show_prints_the_variant_without_keys(cli: Cli, course: Path) -> None:
    result = cli(
        "course", "quiz", "0-intro", "--student", "s1", "--show", "--course", course
    )
    questions = json.loads(result.out)
    assert [q["id"] for q in questions][:5] == [
        "pick-one",
        "pick-some",
        "accuracy",
        "name-it",
        "stages",
    ]
    assert "explanation" not in result.out and "answer" not in result.out


@pytest.mark.parametrize(
    ("args", "answers", "message"),
    [
        ((), None, "a student id is required to record an attempt; pass --student"),
        (("--student", "s1"), "pick-one: [unclosed", "is not valid YAML or JSON"),
        (("--student", "s1"), "- just\n- a list\n", "is not a mapping of question ids"),
        (("--student", "s1"), "ghost: A\n", "question 'ghost' is not in 0-intro"),
        (("--student", "s1"), "pick-one: AB\n", "answer 'AB' to 'pick-one' is not"),
        (("--student", "s1", "--demo", "nope"), None, "no demo 'nope' in 0-intro"),
    ],
)
def test_bad_quiz_input_is_one_line_and_records_nothing(
    cli: Cli,
    course: Path,
    tmp_path: Path,
    args: tuple[str, ...],
    answers: str | None,
    message: str,
) -> None:
    extra: tuple[str | Path, ...] = ()
    if answers is not None:
        path = tmp_path / "answers.yaml"
        path.write_text(answers)
        extra = ("--answers", path)
    result = cli("course", "quiz", "0-intro", *args, *extra, "--course", course)
    assert result.code == 8
    assert message in one_line_error(result.err)
    progress = cli("course", "progress", "--student", "s1", "--course", course)
    assert "0-intro" in progress.out and "/6" not in progress.out


def test_list_show_and_progress(cli: Cli, course: Path) -> None:
    listed = cli("course", "list", "--course", course)
    assert "0-intro" in listed.out and "optional" in listed.out
    shown = cli("course", "show", "1-drift", "--student", "s1", "--course", course)
    assert shown.code == 0 and "data drift" in shown.out and "bash run" not in shown.out
    assert "[[" not in shown.out
    progress = cli("course", "progress", "--student", "s1", "--course", course)
    assert re.search(r"1-drift\s+│\s+optional\s+│\s+opened", progress.out)
    unknown = cli("course", "show", "7-none", "--course", course)
    assert unknown.code == 8 and "choose one of: 0-intro, 1-drift" in unknown.err


def test_glossary_lookup_and_search(cli: Cli, course: Path) -> None:
    exact = cli("course", "glossary", "Data Drift", "--course", course)
    assert (
        "data drift: Inputs change." in exact.out and "related: champion" in exact.out
    )
    search = cli("course", "glossary", "serving", "--course", course)
    assert search.out.strip() == "champion: The serving model."
    missing = cli("course", "glossary", "quantum", "--course", course)
    assert missing.code == 8 and "no glossary term matches 'quantum'" in missing.err


def test_validate_reports_every_problem(cli: Cli, course: Path) -> None:
    assert cli("course", "validate", "--course", course).code == 0
    (course / "1-drift" / "assignment" / "README.md").unlink()
    quiz = course / "0-intro" / "quiz.yaml"
    quiz.write_text(quiz.read_text().replace("answer: 0", "answer: 9"))
    result = cli("course", "validate", "--course", course)
    assert result.code == 8 and "Traceback" not in result.err
    assert "1-drift/assignment/README.md: missing" in result.err
    assert "questions[pick-one]: answer 9 is not an option" in result.err


def test_the_site_builds_strict_without_answers(cli: Cli, course: Path) -> None:
    result = cli("course", "site", "--course", course)
    assert result.code == 0, result.err
    site = Path(".mlopslab/course-site/site")
    lesson = (site / "lessons" / "1-drift.html").read_text()
    assert 'href="../glossary.html#data-drift"' in lesson
    quiz = (site / "quizzes" / "0-intro.html").read_text()
    assert "Which leak?" in quiz and "Anything that sees the test set" not in quiz
    # Neither the written order of options (key first here) nor of ordering items.
    item = quiz.index
    assert item("<li>a challenger</li>") < item("<li>the serving model</li>")
    assert (
        item("<li>evaluate</li>") < item("<li>register</li>") < item("<li>train</li>")
    )
    assert "fonts.googleapis" not in lesson  # offline
    glossary = (site / "glossary.html").read_text()
    assert 'id="data-drift"' in glossary


def test_a_broken_link_fails_the_strict_build(cli: Cli, course: Path) -> None:
    lesson = course / "0-intro" / "lesson.md"
    lesson.write_text(lesson.read_text() + "\nSee [the notes](notes.md).\n")
    result = cli("course", "site", "--course", course)
    assert result.code == 8
    assert "mkdocs build --strict failed" in one_line_error(result.err)
    assert "notes.md" in result.err


@needs_browser
def test_the_site_renders_in_a_browser(cli: Cli, course: Path) -> None:
    assert cli("course", "site", "--course", course).code == 0
    page = Path(".mlopslab/course-site/site/lessons/1-drift.html").resolve()
    dom = rendered_dom(page.as_uri())
    assert "Drift" in dom and "glossary.html#data-drift" in dom
    assert LETTERS  # the quiz page is covered above; here the theme's scripts ran
    assert 'class="md-header' in dom


def test_the_real_course_validates_and_its_site_builds_strict(cli: Cli) -> None:
    real = Path(__file__).resolve().parents[1] / "course"
    validated = cli("course", "validate", "--course", real)
    assert validated.code == 0, validated.err
    built = cli("course", "site", "--course", real)
    assert built.code == 0, built.err
    site = Path(".mlopslab/course-site/site")
    assert (site / "glossary.html").is_file() and (site / "capstone.html").is_file()


def test_a_retake_draws_a_new_variant_and_demo_quizzes_do_not_count(
    cli: Cli, course: Path, tmp_path: Path
) -> None:
    args = ("--student", "s5", "--course", course)
    first = cli("course", "quiz", "0-intro", "--show", *args).out
    empty = tmp_path / "none.yaml"
    empty.write_text("{}\n")
    assert cli("course", "quiz", "0-intro", "--answers", empty, *args).code == 0
    second = cli("course", "quiz", "0-intro", "--show", *args).out
    assert first != second  # other shuffles and numbers: seen keys do not carry over
    right = right_answers(course, "s5")
    demo_answers = tmp_path / "demo.yaml"
    demo_answers.write_text(f"pick-one: {right['pick-one']}\n")
    demo = cli("course", "quiz", "0-intro", "--demo", "demo-0-intro",
               "--answers", demo_answers, *args)  # fmt: skip
    assert demo.code == 0
    progress = cli("course", "progress", *args)
    assert "0/6 (0%)" in progress.out and "100%" not in progress.out


def test_an_interrupted_quiz_is_recorded(course: Path, tmp_path: Path) -> None:
    answers = right_answers(course, "s7")
    done = subprocess.run(
        [sys.executable, "-m", "mlopslab.cli.main", "course", "quiz", "0-intro",
         "--student", "s7", "--course", str(course)],
        input=f"{answers['pick-one']}\n", capture_output=True, text=True,
        cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 130  # stdin ended after one answer: interrupted
    progress = subprocess.run(
        [sys.executable, "-m", "mlopslab.cli.main", "course", "progress",
         "--student", "s7", "--course", str(course)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=True,
    )  # fmt: skip
    assert "1/6 (17%)" in progress.stdout


def test_a_wrong_course_folder_is_an_error_not_a_fallback(cli: Cli) -> None:
    result = cli("course", "validate", "--course", "nowhere")
    assert result.code == 8
    assert "no course.yaml in nowhere" in one_line_error(result.err)


def test_the_site_never_overwrites_a_folder_it_did_not_build(
    cli: Cli, course: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "index.md").write_text("mine")
    result = cli("course", "site", "--out", project, "--course", course)
    assert result.code == 8 and "is not a course site mlopslab built" in result.err
    assert (project / "docs" / "index.md").read_text() == "mine"
    fresh = tmp_path / "site"
    for _ in range(2):  # a folder it built is rebuilt in place
        assert cli("course", "site", "--out", fresh, "--course", course).code == 0


def test_validate_loads_every_assignments_checks(cli: Cli, course: Path) -> None:
    assignment = course / "1-drift" / "assignment"
    (assignment / "checks.py").write_text(
        "from mlopslab.course.grading import check\n\n"
        "@check('runs', points=1)\n"
        "def runs(ctx):\n    pass\n"
    )
    (assignment / "assignment.yaml").write_text("title: Drift\n")
    assert cli("course", "validate", "--course", course).code == 0
    (assignment / "checks.py").write_text("import nowhere\n")
    (assignment / "assignment.yaml").write_text("title: Drift\nlate_days: 2\n")
    result = cli("course", "validate", "--course", course)
    assert result.code == 8 and "Traceback" not in result.err
    assert "checks.py does not load: No module named 'nowhere'" in result.err
    assert "assignment.yaml: 1 validation error" in result.err
