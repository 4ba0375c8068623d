"""What students get carries nothing that grades them: the wheel, the sdist and
the repository `mlopslab course release` writes.

Each is searched for every line only the instructor's files hold (hidden
checks, solutions, sample submissions) and for every quiz key, explanation and
accepted pattern that no public file also holds.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlopslab.course import release as release_module
from mlopslab.course.bundle import copy_public_course
from mlopslab.course.content import WITHHELD_NOTE, QuizFile, load_course
from mlopslab.errors import CourseError
from tests.conftest import Cli

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "course"
UV = Path(sys.executable).parent / "uv"
# hatchling comes from the dev group: no download, no isolated environment.
OFFLINE = ("--no-build-isolation", "--offline", "--python", sys.executable)
IMPORT_FROM_SRC = (
    "import sys; sys.path.insert(0, 'src'); import mlopslab, mlopslab.cli.main; "
    "print(mlopslab.__file__)"
)

pytestmark = pytest.mark.slow  # builds and git runs: a few seconds


def instructor_only(path: Path) -> bool:
    relative = path.relative_to(COURSE)
    return "instructor" in relative.parts or path.name == "quiz.yaml"


def public_files() -> list[Path]:
    """What is meant to be shipped: the code, its tests, the docs, the public course.

    The course's own tests are not: they answer quizzes and grade the samples.
    """
    found = [REPO / "README.md", *(REPO / "docs").rglob("*.md")]
    found += [p for p in (REPO / "deploy").rglob("*") if p.is_file()]
    for folder in ("src", "tests", "benchmarks", "tools"):
        found += (REPO / folder).rglob("*.py")
    found += [p for p in COURSE.rglob("*") if p.is_file() and not instructor_only(p)]
    return [p for p in found if "__pycache__" not in p.parts and shipped(p)]


def shipped(path: Path) -> bool:
    tests = REPO / "tests"
    return not path.is_relative_to(tests) or "course" not in str(
        path.relative_to(tests)
    )


@cache
def secrets() -> tuple[str, ...]:
    """Instructor-only lines (25+ characters) and quiz keys no public file holds."""
    public_text = "\n".join(p.read_text(encoding="utf-8") for p in public_files())
    found = []
    for path in sorted(COURSE.glob("*/instructor/**/*")):
        if path.is_file() and "__pycache__" not in path.parts:
            found += _own_lines(path)
    # Substrings too: a public line with a comment after the same code.
    lines = [s for s in found if len(s) >= 25 and s not in public_text]
    keys = [k for k in quiz_keys() if len(k) >= 8 and k not in public_text]
    return tuple(dict.fromkeys(lines + keys))


def _own_lines(path: Path) -> list[str]:
    """A patch's added lines (the rest is code already public); a file's lines."""
    text = path.read_text(encoding="utf-8").splitlines()
    if path.suffix != ".patch":
        return [line.strip() for line in text]
    added = [line for line in text if line.startswith("+")]
    return [line[1:].strip() for line in added if not line.startswith("+++")]


def quiz_keys() -> list[str]:
    found = []
    for module in load_course(COURSE).modules:
        for question in module.quiz_keys().all_questions():
            found.append(question.explanation)
            found += getattr(question, "accept", [])
            if question.type == "numeric":
                found.append(str(question.answer))
    return found


def leaked(texts: dict[str, str]) -> list[str]:
    """Each secret found, with the first member that holds it."""
    return [
        f"{name}: {secret}"
        for secret in secrets()
        for name, text in texts.items()
        if secret in text
    ][:20]


def test_the_search_has_something_to_find() -> None:
    found = secrets()
    assert len(found) > 300
    hidden = (COURSE / "3-evaluation" / "instructor" / "checks.py").read_text()
    assert any(secret in hidden for secret in found)
    assert any("instructor" not in s and s in quiz_text() for s in found)


def quiz_text() -> str:
    return "\n".join(p.read_text() for p in COURSE.glob("*/quiz.yaml"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [UV, "build", REPO, "--sdist", "--wheel", *OFFLINE, "--out-dir", out],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_wheel_ships_the_public_course_and_no_keys(built: Path) -> None:
    (wheel,) = built.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        texts = {
            n: archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
        }
    course = [n.removeprefix("mlopslab/_course/") for n in texts if "/_course/" in n]
    assert not [n for n in texts if "/instructor/" in n or n.endswith("quiz.yaml")]
    assert {"3-evaluation/lesson.md", "3-evaluation/assignment/checks.py"} <= set(
        course
    )
    assert WITHHELD_NOTE in course
    # The course's README in the wheel is the students' guide, not the authors'.
    student_readme = (COURSE / "STUDENT_README.md").read_text(encoding="utf-8")
    assert texts["mlopslab/_course/README.md"] == student_readme
    assert "STUDENT_README.md" not in course
    assert leaked(texts) == []


def test_the_wheels_course_loads_without_keys(built: Path, tmp_path: Path) -> None:
    (wheel,) = built.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path)
    course = load_course(tmp_path / "mlopslab" / "_course")
    assert len(course.modules) == len(load_course(COURSE).modules)
    assert all(module.quiz is None for module in course.modules)


def test_the_sdist_ships_no_keys(built: Path) -> None:
    (sdist,) = built.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.isfile()]
        texts = {
            m.name: archive.extractfile(m).read().decode("utf-8", "replace")  # type: ignore[union-attr]
            for m in members
        }
    assert not [n for n in texts if "/instructor/" in n or n.endswith("quiz.yaml")]
    assert any(n.endswith("course/3-evaluation/assignment/checks.py") for n in texts)
    assert leaked(texts) == []


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "starter"
    written = release_module.write_release(COURSE, out)
    assert written.out == out and written.files > 100
    assert written.source == git(REPO, "rev-parse", "HEAD")
    return out


def tree_texts(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_the_release_holds_lessons_checks_and_questions_without_keys(
    released: Path,
) -> None:
    texts = tree_texts(released)
    assert not [n for n in texts if "instructor" in n or n.endswith("quiz.yaml")]
    assert {
        "course/3-evaluation/lesson.md",
        "course/3-evaluation/assignment/checks.py",
        "course/3-evaluation/quiz.md",
        "src/mlopslab/cli/main.py",
        "pyproject.toml",
        "uv.lock",
        "Makefile",
    } <= set(texts)
    # The release is made from the last commit: compare with its quiz file.
    committed = git(REPO, "show", "HEAD:course/3-evaluation/quiz.yaml")
    first = QuizFile.model_validate(yaml.safe_load(committed)).all_questions()[0]
    questions = texts["course/3-evaluation/quiz.md"]
    assert first.prompt in questions
    assert first.explanation not in questions
    assert "--server URL" in questions
    assert not [n for n in texts if n.startswith("tests/") and "course" in n]
    assert leaked(texts) == []


def test_the_release_readme_is_the_students(released: Path) -> None:
    readme = (released / "README.md").read_text()
    assert "mlopslab course submit MODULE --server URL" in readme
    assert "make test-fast" in readme
    assert "| `3-evaluation` | Evaluation and gating | core |" in readme
    manual = (released / "docs" / "manual.md").read_text()
    assert "](architecture.md)" in manual and "](../course/README.md)" in manual
    course_readme = (released / "course" / "README.md").read_text()
    assert course_readme == (COURSE / "STUDENT_README.md").read_text()


def test_the_release_is_one_fresh_commit(released: Path) -> None:
    log = git(released, "log", "--format=%H %s")
    assert log.splitlines() == [
        f"{git(released, 'rev-parse', 'HEAD')} Course starting point"
    ]
    assert git(released, "status", "--porcelain") == ""
    assert git(REPO, "rev-parse", "HEAD") not in git(released, "rev-list", "--all")


def git(where: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        ["git", "-C", where, *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_released_package_imports_from_its_src(released: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_FROM_SRC],
        capture_output=True,
        text=True,
        cwd=released,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(released / "src")


def test_in_the_release_quizzes_point_to_the_server(released: Path, cli: Cli) -> None:
    course = released / "course"
    result = cli("course", "validate", "--course", course)
    assert result.code == 0, result.err
    assert "quiz keys withheld" in result.out
    result = cli(
        "course", "quiz", "3-evaluation", "--student", "ana", "--course", course
    )
    assert result.code == 8
    assert result.err.strip() == (
        "error: this copy of the course carries no quiz keys for 3-evaluation; take "
        "the quiz on the course server (`mlopslab course quiz 3-evaluation "
        "--server URL`)"
    )


def test_a_non_empty_destination_is_one_line_and_untouched(
    tmp_path: Path, cli: Cli
) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    result = cli("course", "release", "--out", out, "--course", COURSE)
    assert result.code == 8
    assert result.err.strip() == (
        f"error: {out} is not empty; choose a new or empty folder for --out"
    )
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken", "work"]


def test_a_destination_in_a_missing_folder_is_refused(tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "missing" / "starter"
    result = cli("course", "release", "--out", out, "--course", COURSE)
    assert result.code == 8 and "Traceback" not in result.err
    assert f"its parent folder {out.parent} does not exist" in result.err
    assert not out.parent.exists()


def test_the_wheel_hook_ships_the_students_readme_as_the_course_readme() -> None:
    hook = _hatch_build()
    names = {
        path.as_posix(): hook.shipped_name(path)
        for path in hook.public_course_files(COURSE)
    }
    assert names["STUDENT_README.md"] == "README.md"
    assert names["README.md"] is None  # the authors' guide stays in the checkout
    assert names["3-evaluation/lesson.md"] == "3-evaluation/lesson.md"


def _hatch_build() -> Any:
    spec = importlib.util.spec_from_file_location(
        "hatch_build", REPO / "hatch_build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_writes_into_an_empty_folder(tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    result = cli("course", "release", "--out", out, "--course", COURSE)
    assert result.code == 0, result.err
    assert result.out.startswith("students' repository: ") and str(out) in result.out
    assert (out / "course" / WITHHELD_NOTE).is_file()


def test_a_failure_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(staging: Path) -> str:
        raise CourseError("git commit failed: disk full", "see git's message")

    monkeypatch.setattr(release_module, "_commit", broken)
    out = tmp_path / "starter"
    with pytest.raises(CourseError, match="disk full"):
        release_module.write_release(COURSE, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_a_course_outside_a_checkout_is_refused(tmp_path: Path, cli: Cli) -> None:
    course = tmp_path / "loose"
    copy_public_course(load_course(COURSE), COURSE, _made(course))
    result = cli("course", "release", "--out", tmp_path / "out", "--course", course)
    assert result.code == 8
    assert "is not inside a git checkout of mlopslab" in result.err
    assert not (tmp_path / "out").exists()


def _made(folder: Path) -> Path:
    folder.mkdir()
    return folder


def test_only_the_last_commit_is_released(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone))
    lesson = clone / "course" / "0-setup" / "lesson.md"
    committed = lesson.read_text()
    lesson.write_text(committed + "\nAn edit not yet committed.\n")
    (clone / "notes.txt").write_text("the answer to 3-evaluation is B\n")
    (clone / "course" / "0-setup" / "draft.md").write_text("draft\n")
    out = tmp_path / "starter"
    release_module.write_release(clone / "course", out)
    assert (out / "course" / "0-setup" / "lesson.md").read_text() == committed
    assert not (out / "notes.txt").exists()
    assert not (out / "course" / "0-setup" / "draft.md").exists()
