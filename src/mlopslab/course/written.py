"""Written answers: the part of an assignment an instructor grades by hand.

An assignment lists its questions in `assignment.yaml`:

    written:
      - id: why-per-class
        points: 2
        prompt: Why can accuracy stay high while one class is badly served?

The learner answers in `ANSWERS.md` at the root of their copy, one section per
question under a heading that is its id (`## why-per-class`). The grader only
reads that file, as text: the copy's own file, never a link out of it, at most
ANSWERS_LIMIT bytes, each answer cut at ANSWER_LIMIT characters. The course
server shows the answers to the instructor, who gives each its points.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pydantic import Field

from mlopslab.course.content import SLUG, Strict

ANSWERS_FILE = "ANSWERS.md"
ANSWERS_LIMIT = 64 * 1024  # bytes of ANSWERS.md read
ANSWER_LIMIT = 6000  # characters kept of one answer


class Written(Strict):
    """A question answered in ANSWERS.md and graded by hand."""

    id: str = Field(pattern=SLUG)
    points: float = Field(gt=0)
    prompt: str = Field(min_length=1)


def read_answers(copy: Path, questions: list[Written]) -> dict[str, str]:
    """Each question's answer ("" when missing) from the copy's ANSWERS.md."""
    if not questions:
        return {}
    text = _answers_text(copy)
    sections = _sections(text)
    return {q.id: sections.get(q.id.lower(), "")[:ANSWER_LIMIT] for q in questions}


def _answers_text(copy: Path) -> str:
    """The file's text; nothing for a link, a folder, a fifo or a missing file."""
    path = copy / ANSWERS_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return ""
        data = handle.read(ANSWERS_LIMIT)
    return data.decode("utf-8", "replace").replace("\x00", "")


def _sections(text: str) -> dict[str, str]:
    """Heading (lowercased) to the text below it, up to the next heading.

    Line by line, no pattern: a learner's line is read in linear time (a
    pattern for "#, a name, closing #s" backtracked for hours on a long line).
    """
    found: dict[str, str] = {}
    name: str | None = None
    body: list[str] = []
    for line in [*text.splitlines(), "# end"]:
        heading = _heading(line)
        if heading is None:
            body.append(line)
            continue
        if name is not None:
            found.setdefault(name, "\n".join(body).strip())
        name, body = heading, []
    return found


def _heading(line: str) -> str | None:
    """A `#` to `###` heading's text (lowercased, closing #s and backticks off)."""
    level = len(line) - len(line.lstrip("#"))
    if not 1 <= level <= 3 or line[level : level + 1] not in (" ", "\t"):
        return None
    return line[level:].strip().rstrip("#").strip().strip("`").lower()
