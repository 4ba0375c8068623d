"""Lessons: their `bash run` blocks are found, run in order, and judged."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mlopslab.course.content import Module, load_course
from mlopslab.course.exercises import find, solutions_folder
from mlopslab.course.lessons import explain, run_blocks, run_lesson, strip_markers
from tests.course_fixture import write_course

REAL_COURSE = Path(__file__).resolve().parents[1] / "course"


@pytest.fixture
def intro(tmp_path: Path) -> Module:
    return load_course(write_course(tmp_path / "c")).module("0-intro")


def test_blocks_are_found_with_their_expectations(intro: Module) -> None:
    blocks = run_blocks(intro.body)
    assert [b.expect_fail for b in blocks] == [False, False, True]
    assert blocks[2].expected == "error: no such thing"
    assert blocks[0].code.strip() == "echo hello > greeting.txt"
    assert "```bash run" not in strip_markers(intro.body)


def test_blocks_run_in_order_in_one_directory(intro: Module, tmp_path: Path) -> None:
    work = tmp_path / "lesson"
    work.mkdir()
    results = run_lesson(intro, work)
    assert [r.ok for r in results] == [True, True, True]
    assert (work / "greeting.txt").read_text() == "hello\n"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('test "$(cat greeting.txt)" = hello', "false", "exited 1"),
        ("exit 4", "exit 0", "should fail but exited 0"),
        ('"error: no such thing"', '"error: other"', "failed without printing"),
    ],
)
def test_a_lesson_that_drifts_from_the_code_fails(
    intro: Module,
    tmp_path: Path,
    old: str,
    new: str,
    problem: str,
) -> None:
    broken = replace(intro, body=intro.body.replace(old, new))
    results = run_lesson(broken, tmp_path)
    assert not results[-1].ok
    assert problem in explain(results[-1])


def test_background_processes_stop_when_the_lesson_ends(
    intro: Module, tmp_path: Path
) -> None:
    body = "```bash run\nsleep 300 &\necho $! > pid\n```\n"
    run_lesson(replace(intro, body=body), tmp_path)
    pid = int((tmp_path / "pid").read_text())
    assert not running(pid)


def running(pid: int) -> bool:
    """Alive and not a zombie (which only waits for init to reap it)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize(
    "module_id",
    [
        m["id"]
        for m in __import__("yaml").safe_load(
            (REAL_COURSE / "course.yaml").read_text()
        )["modules"]
    ],
)
def test_every_lesson_of_the_course_runs(module_id: str, tmp_path: Path) -> None:
    module = load_course(REAL_COURSE).module(module_id)
    results = run_lesson(module, tmp_path)
    failed = [r for r in results if not r.ok]
    assert not failed, f"{explain(failed[0])}\n{failed[0].output[-3000:]}"
    solutions = solutions_folder(module.folder)
    assert len(results) == len(run_blocks(module.body, solutions))
    # Every exercise's solution ran, where its exercise stands.
    ran = [r.block.solution for r in results if r.block.solution]
    assert ran == [f.exercise.id for f in find(module.body) if f.exercise]
