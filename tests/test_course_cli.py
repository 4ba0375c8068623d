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
    assert "is not one of its letters; answer with one of A, B, C" in done.stdout
    assert "Score: 6 / 6 (100%)" in done.stdout
    # No key is shown before its question is answered: the first key follows
    # the first "Your answer" prompt.
    first_key = done.stdout.index("right.")
    assert done.stdout.index("Your answer") < first_key


def test_show_prints_the_questions_lettered_and_an_answers_file(
    cli: Cli, course: Path, tmp_path: Path
) -> None:
    args = ("--student", "s1", "--course", course)
    shown = cli("course", "quiz", "0-intro", "--show", *args)
    assert shown.code == 0, shown.err
    assert "1. [pick-one] Which is the champion?" in shown.out
    assert "answer: one letter, e.g. B" in shown.out
    assert "The champion serves." not in shown.out  # no explanation, so no key
    # The letters printed are the ones the answers file takes.
    right = re.search(r"([A-C])\) the serving model", shown.out)
    assert right is not None
    # The form it ends with is an answers file: one id per line, blank = 0.
    form = shown.out[shown.out.index("\npick-one:") :]
    path = tmp_path / "answers.yaml"
    path.write_text(form.replace("pick-one:", f"pick-one: {right.group(1)}"))
    scored = cli("course", "quiz", "0-intro", "--answers", path, *args)
    assert scored.code == 0, scored.err
    assert "Score: 1 / 6" in scored.out


@pytest.mark.parametrize("flag", ["--show", "--answers"])
def test_practice_flags_never_start_the_servers_graded_quiz(
    cli: Cli, course: Path, tmp_path: Path, flag: str
) -> None:
    """No server listens on port 9: refused before anything is sent."""
    extra = (flag,) if flag == "--show" else (flag, tmp_path / "a.yaml")
    server = ("--server", "http://127.0.0.1:9", "--token", "t")
    refused = cli("course", "quiz", "0-intro", *extra, *server, "--course", course)
    assert refused.code == 8
    assert f"{flag} is for practice here, not for the course server's quiz" in (
        refused.err
    )


def test_quiz_help_documents_the_answers_file(cli: Cli) -> None:
    helped = cli("course", "quiz", "--help")
    assert "pick-some: A,C" in helped.out and "stages: CADB" in helped.out
    assert "left blank scores 0" in helped.out


@pytest.mark.parametrize(
    ("args", "answers", "message"),
    [
        ((), None, "a student id is required to draw your questions and record"),
        (("--student", "s1"), "pick-one: [unclosed", "is not valid YAML or JSON"),
        (("--student", "s1"), "- just\n- a list\n", "is not a mapping of question ids"),
        (("--student", "s1"), "ghost: A\n", "question 'ghost' is not in 0-intro"),
        (
            ("--student", "s1"),
            "pick-one: AB\n",
            "'pick-one' gives more than one letter",
        ),
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


def test_progress_without_a_student_says_what_it_needs_it_for(
    cli: Cli, course: Path
) -> None:
    result = cli("course", "progress", "--course", course)
    assert result.code == 8
    assert one_line_error(result.err) == (
        "error: a student id is required to show whose progress; pass --student YOUR_ID"
    )


def test_a_module_is_named_by_its_id_number_or_a_unique_start(
    cli: Cli, course: Path
) -> None:
    for given in ("1-drift", "1", "1-d", "dri", "DRIFT"):
        shown = cli("course", "show", given, "--course", course)
        assert shown.code == 0, (given, shown.err)
        assert "mlopslab course quiz 1-drift --student" in shown.out
    quiz = cli("course", "quiz", "0", "--student", "s1", "--show", "--course", course)
    assert quiz.code == 0 and "0-intro: 6 questions" in quiz.out
    unknown = cli("course", "show", "7", "--course", course)
    assert one_line_error(unknown.err) == (
        "error: no module '7' in the course; choose one of: 0-intro, 1-drift"
    )


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


def run_quiz(course: Path, student: str, typed: str) -> str:
    """A terminal quiz fed `typed`, its input then ending; what it said last.

    In the test's working folder, so `cli(...)` reads the same workspace."""
    done = subprocess.run(
        [sys.executable, "-m", "mlopslab.cli.main", "course", "quiz", "0-intro",
         "--student", student, "--course", str(course)],
        input=typed, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 130  # the input ended mid-quiz: interrupted
    assert "Traceback" not in done.stderr
    return done.stderr.strip()


def test_an_interrupted_quiz_with_answers_counts_and_says_so(
    cli: Cli, course: Path
) -> None:
    answers = right_answers(course, "s7")
    said = run_quiz(course, "s7", f"{answers['pick-one']}\n")
    # Its key was shown: the attempt is recorded, and the user is told.
    assert said == (
        "quiz interrupted after 1 of 6 answers; this attempt counts (you saw "
        "those answers' keys): recorded as 1/6"
    )
    progress = cli("course", "progress", "--student", "s7", "--course", course)
    assert "1/6 (17%)" in progress.out


def test_a_quiz_interrupted_before_any_answer_records_nothing(
    cli: Cli, course: Path
) -> None:
    said = run_quiz(course, "s8", "Q\n")  # malformed: no answer yet
    assert said.endswith("quiz interrupted before any answer; nothing recorded")
    progress = cli("course", "progress", "--student", "s8", "--course", course)
    assert "/6" not in progress.out


def test_a_wrong_course_folder_is_an_error_not_a_fallback(cli: Cli) -> None:
    result = cli("course", "validate", "--course", "nowhere")
    assert result.code == 8
    assert "no course.yaml in nowhere" in one_line_error(result.err)


def test_the_site_makes_no_folders_but_its_own(
    cli: Cli, course: Path, tmp_path: Path
) -> None:
    out = tmp_path / "missing" / "site"
    result = cli("course", "site", "--out", out, "--course", course)
    assert result.code == 8
    assert one_line_error(result.err) == (
        f"error: --out {out}: its parent folder {out.parent} does not exist; "
        f"create {out.parent} first, or choose --out inside an existing folder"
    )
    assert not out.parent.exists()


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
    assert "assignment.yaml: late_days: Extra inputs are not permitted" in result.err
