"""Lessons: their runnable blocks, and running them as a learner would.

A block tagged `bash run` is executed; `bash run expect-fail` must fail and
print the first line of the `text` block after it. Where the instructor's
solutions are at hand, each exercise's solution runs where the exercise
stands, in a copy of the working directory (exercises.py). All blocks of a lesson run
in order in one working directory, each with `bash -euo pipefail`; whatever
they leave running in the background is stopped when the lesson ends.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from mlopslab.course import exercises
from mlopslab.course.content import CODE, TERM_LINK, Course, Module

BLOCK_SECONDS = 120


@dataclass(frozen=True)
class Block:
    code: str
    line: int  # 1-based, in the lesson body
    expect_fail: bool = False
    expected: str = ""  # for expect-fail: the message it must print
    solution: str = ""  # an exercise's id: its solution, run in a copy


@dataclass(frozen=True)
class BlockResult:
    block: Block
    ok: bool
    exit_code: int | None
    seconds: float
    output: str
    problem: str = ""


def run_blocks(body: str, solutions: Path | None = None) -> list[Block]:
    """The `bash run` blocks of a lesson body, in order; with a `solutions`
    folder, each exercise's solution script where the exercise stands."""
    tokens = [t for t in MarkdownIt().parse(body) if t.type == "fence"]
    blocks = []
    for index, token in enumerate(tokens):
        words = token.info.split()
        line = (token.map[0] + 1) if token.map else 0
        if words == [exercises.FENCE] and solutions is not None:
            blocks.extend(_solution(token.content, line, solutions))
            continue
        if words[:2] != ["bash", "run"]:
            continue
        expect_fail = "expect-fail" in words[2:]
        expected = ""
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if expect_fail and after is not None and after.info == "text":
            expected = next(iter(after.content.strip().splitlines()), "")
        blocks.append(Block(token.content, line, expect_fail, expected))
    return blocks


def _solution(source: str, line: int, solutions: Path) -> list[Block]:
    exercise = exercises.parse(source)
    script = solutions / f"{exercise.id}.sh" if exercise else None
    if exercise is None or script is None or not script.is_file():
        return []  # `course validate` names what is missing
    return [Block(script.read_text(), line, solution=exercise.id)]


def run_lesson(
    module: Module,
    workdir: Path,
    on_block: Callable[[BlockResult], None] | None = None,
) -> list[BlockResult]:
    """Run every block in `workdir`; stop at the first that does not behave."""
    results = []
    solutions = exercises.solutions_folder(module.folder)
    blocks = run_blocks(module.body, solutions if solutions.is_dir() else None)
    with _process_groups() as groups:
        for block in blocks:
            result = (
                _run_in_copy(block, workdir, groups)
                if block.solution
                else _run(block, workdir, groups)
            )
            results.append(result)
            if on_block is not None:
                on_block(result)
            if not result.ok:
                break
    return results


def _run_in_copy(block: Block, workdir: Path, groups: list[int]) -> BlockResult:
    """An exercise's solution, in a copy of the lesson so far: the blocks after
    it run as they would in a students' copy, which has no solutions."""
    with tempfile.TemporaryDirectory(prefix=f"exercise-{block.solution}-") as scratch:
        copy = Path(scratch) / workdir.name
        shutil.copytree(workdir, copy, symlinks=True)
        return _run(block, copy, groups)


def _run(block: Block, workdir: Path, groups: list[int]) -> BlockResult:
    started = time.monotonic()
    # Output goes to a file outside the lesson's directory, not a pipe: a
    # background server started by the block keeps its descriptors open.
    with tempfile.TemporaryFile("w+", errors="replace") as out:
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.code],
            cwd=workdir,
            env=_lesson_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        groups.append(process.pid)
        try:
            code: int | None = process.wait(timeout=BLOCK_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        out.seek(0)
        output = out.read()
    seconds = time.monotonic() - started
    return BlockResult(
        block, *_verdict(block, code, output), seconds=seconds, output=output
    )


def _verdict(block: Block, code: int | None, output: str) -> tuple[bool, int | None]:
    if code is None:
        return False, None
    if block.expect_fail:
        return code != 0 and block.expected in output, code
    return code == 0, code


def explain(result: BlockResult) -> str:
    """Why a block did not behave, in one line."""
    block = result.block
    if block.solution:
        what = f"exercise '{block.solution}': its solution"
        if result.exit_code is None:
            return f"line {block.line}: {what} did not finish within {BLOCK_SECONDS} s"
        return f"line {block.line}: {what} exited {result.exit_code}"
    if result.exit_code is None:
        return f"line {block.line}: did not finish within {BLOCK_SECONDS} s"
    if block.expect_fail and result.exit_code == 0:
        return f"line {block.line}: should fail but exited 0"
    if block.expect_fail:
        return f"line {block.line}: failed without printing {block.expected!r}"
    return f"line {block.line}: exited {result.exit_code}"


def _lesson_env() -> dict[str, str]:
    """The learner's environment: this mlopslab first on PATH, no workspace override."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLOPSLAB_") and k != "MLFLOW_TRACKING_URI"
    }
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


@contextmanager
def _process_groups() -> Iterator[list[int]]:
    groups: list[int] = []
    try:
        yield groups
    finally:
        _stop(groups)


def _stop(groups: list[int]) -> None:
    """SIGTERM what the lesson left running, then SIGKILL what ignores it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [g for g in groups if _signal_group(g, sig)]
        deadline = time.monotonic() + 10
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [g for g in alive if _group_alive(g)]
        if not alive:
            return


def _group_alive(group: int) -> bool:
    """Whether any process of the group still runs (zombies do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return _signal_group(group, 0)
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def _signal_group(group: int, sig: int) -> bool:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def link_terms(body: str, link: Callable[[str, str], str]) -> str:
    """Replace `[[term]]` and `[[term|text]]` with `link(term, text)`, outside code."""
    parts = CODE.split(body)
    for index in range(0, len(parts), 2):
        parts[index] = TERM_LINK.sub(
            lambda m: link(m.group(1).strip(), (m.group(2) or m.group(1)).strip()),
            parts[index],
        )
    return "".join(parts)


def strip_markers(body: str) -> str:
    """The body as a learner reads it: `bash run ...` fences become plain bash."""
    return re.sub(r"^(\s*```+)bash run[^\n]*$", r"\1bash", body, flags=re.MULTILINE)


def glossary_link(course: Course, prefix: str = "") -> Callable[[str, str], str]:
    def link(term: str, text: str) -> str:
        found = course.term(term)
        anchor = found.anchor if found else term
        return f"[{text}]({prefix}glossary.md#{anchor})"

    return link
