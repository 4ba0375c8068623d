"""Exercises inside lessons: the learner changes or writes code, then checks it.

In `lesson.md` an exercise is a fenced block tagged `exercise` that holds YAML:

    ```exercise
    id: wider-split
    title: Give validation more rows
    task: |
      What to change, and what to look at afterwards.
    hints:
      - A first nudge.
      - A stronger one.
    ```

Its solution is instructor material, `<module>/instructor/exercises/<id>.sh`:
a bash script that does the exercise and checks the outcome (it fails if the
outcome is wrong). `make test` runs every solution where its exercise stands in
the lesson, in a copy of the lesson's working directory, so that the blocks
after it run the same with or without it: a students' copy has no solutions.
The site shows a solution only in the instructor's build (`course site
--solutions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from pydantic import Field, ValidationError

from mlopslab.course.content import SLUG, Strict

FENCE = "exercise"


class Exercise(Strict):
    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    task: str = Field(min_length=1)
    hints: list[str] = Field(min_length=1)
    minutes: int = Field(15, gt=0)  # study time, for the syllabus


@dataclass(frozen=True)
class Found:
    """An exercise block where it stands in a lesson body."""

    line: int  # 1-based, in the lesson body
    end: int  # the line after the closing fence (0-based: the fence's own map)
    exercise: Exercise | None  # None: the block is not a valid exercise
    problem: str = ""


def solutions_folder(module_folder: Path) -> Path:
    return module_folder / "instructor" / "exercises"


def find(body: str) -> list[Found]:
    """Every `exercise` block of a lesson body, parsed, in order."""
    found = []
    for token in MarkdownIt().parse(body):
        if token.type != "fence" or token.info.strip() != FENCE:
            continue
        start, end = token.map or (0, 0)
        found.append(_parse(token.content, start + 1, end))
    return found


def parse(source: str) -> Exercise | None:
    """The exercise a block's text holds, or None if it is not a valid one."""
    return _parse(source, 0, 0).exercise


def _parse(source: str, line: int, end: int) -> Found:
    try:
        exercise = Exercise.model_validate(yaml.safe_load(source))
    except yaml.YAMLError as exc:
        return Found(line, end, None, f"not YAML: {str(exc).splitlines()[0]}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "exercise"
        return Found(line, end, None, f"{where}: {first['msg']}")
    return Found(line, end, exercise)


def problems(lesson: Path, body: str, withheld: bool) -> list[str]:
    """What is wrong with a lesson's exercises, each naming the file.

    `withheld`: a students' copy, where solutions are left out on purpose.
    """
    found = find(body)
    out = [
        f"{lesson}: exercise at line {f.line}: {f.problem}" for f in found if f.problem
    ]
    ids = [f.exercise.id for f in found if f.exercise]
    out += [
        f"{lesson}: exercise '{i}' is there twice"
        for i in sorted(set(ids))
        if ids.count(i) > 1
    ]
    if withheld:
        return out
    folder = solutions_folder(lesson.parent)
    out += [
        f"{folder / (i + '.sh')}: missing (the solution of exercise '{i}')"
        for i in ids
        if not (folder / f"{i}.sh").is_file()
    ]
    if folder.is_dir():
        out += [
            f"{path}: no exercise '{path.stem}' in {lesson.name}"
            for path in sorted(folder.glob("*.sh"))
            if path.stem not in ids
        ]
    return out


def as_markdown(
    body: str, module_folder: Path, solutions: bool, collapsible: bool
) -> str:
    """The body with each exercise block written out for a reader.

    `collapsible`: MkDocs admonitions (hints fold away); otherwise plain
    Markdown for the terminal. `solutions`: add each solution script.
    """
    lines = body.split("\n")
    numbered = [f for f in find(body) if f.exercise]
    # From the last block up, so that the earlier blocks' lines stay where they are.
    for number, found in reversed(list(enumerate(numbered, start=1))):
        assert found.exercise is not None
        script = solutions_folder(module_folder) / f"{found.exercise.id}.sh"
        solution = script.read_text() if solutions and script.is_file() else None
        write = _admonitions if collapsible else _plain
        text = write(number, found.exercise, solution)
        lines[found.line - 1 : found.end] = text.split("\n")
    return "\n".join(lines)


def _admonitions(number: int, exercise: Exercise, solution: str | None) -> str:
    lines = [f'!!! question "Exercise {number}: {exercise.title}"', ""]
    lines += _indented(exercise.task)
    for index, hint in enumerate(exercise.hints, start=1):
        lines += ["", f'??? tip "Hint {index}"', "", *_indented(hint)]
    if solution is not None:
        code = ["```bash", *solution.rstrip().splitlines(), "```"]
        lines += ["", '??? success "Solution"', "", *_indented("\n".join(code))]
    return "\n".join(lines)


def _plain(number: int, exercise: Exercise, solution: str | None) -> str:
    lines = [f"**Exercise {number}: {exercise.title}**", "", exercise.task.rstrip()]
    lines += ["", "Hints, if you need them:"]
    lines += [
        f"{index}. {hint.strip()}" for index, hint in enumerate(exercise.hints, 1)
    ]
    if solution is not None:
        lines += ["", "```bash", solution.rstrip(), "```"]
    return "\n".join(lines)


def _indented(text: str) -> list[str]:
    return [f"    {line}" if line else "" for line in text.rstrip().splitlines()]
