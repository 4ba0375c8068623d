"""The gradebook as files an LMS imports: Canvas, Moodle, Gradescope, plain CSV.

One column per graded item (`<module> quiz`, `<module> assignment`), in points,
with the attempt that counts under `course.attempt_policy`. Students are keyed
by the id they graded under; map it to the LMS's SIS id or id number.

- canvas: Canvas's gradebook CSV (Student, ID, SIS User ID, SIS Login ID,
  Section, then the items), with its "Points Possible" row first.
- moodle: Moodle's "Import grades from CSV": an `ID number` column to map
  users on, then one column per grade item.
- gradescope: the columns of Gradescope's score export, one row per student
  and assignment (Name, SID, Email, Assignment, Total Score, Max Points, Status).
- csv: one row per student and item, with percent and the time of the attempt.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from mlopslab.course.gradebook import Attempt, Gradebook, Policy, counted_item
from mlopslab.course.safe_text import SafeWriter
from mlopslab.errors import CourseError

Format = Literal["canvas", "moodle", "gradescope", "csv"]
FORMATS: tuple[Format, ...] = ("canvas", "moodle", "gradescope", "csv")


def export(book: Gradebook, policy: Policy, kind: Format, modules: list[str]) -> str:
    """The gradebook's counted attempts as CSV text in the LMS's layout."""
    items = _items(book, policy, modules)
    students = sorted({student for student, _ in items})
    columns = sorted(
        {column for _, column in items}, key=lambda c: (modules.index(c[0]), c[1])
    )
    out = io.StringIO()
    writer = SafeWriter(csv.writer(out, lineterminator="\n"))
    grid = _Grid(items, students, columns)
    if kind in ("canvas", "moodle"):
        _wide(writer, kind, grid)
    elif kind == "gradescope":
        _gradescope(writer, grid)
    else:
        _plain(writer, grid)
    return out.getvalue()


def write_export(text: str, path: Path) -> None:
    """All or nothing: a partial export is never left behind."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CourseError(
            f"cannot write {path}: {exc.strerror}",
            "give a file in a folder that exists",
        ) from exc


Item = tuple[str, str]  # (module, kind)
CsvWriter = Any  # what csv.writer returns (its type is private)


class _Grid(NamedTuple):
    """The attempt that counts per (student, item): rows are students, columns items."""

    items: dict[tuple[str, Item], Attempt]
    students: list[str]
    columns: list[Item]


def _items(
    book: Gradebook, policy: Policy, modules: list[str]
) -> dict[tuple[str, Item], Attempt]:
    grouped: dict[tuple[str, Item], list[Attempt]] = {}
    for attempt in book.attempts():
        if attempt.module not in modules or attempt.demo is not None:
            continue
        key = (attempt.student, (attempt.module, attempt.kind))
        grouped.setdefault(key, []).append(attempt)
    return {
        key: chosen
        for key, attempts in grouped.items()
        if (chosen := counted_item(attempts[0].kind, attempts, policy)) is not None
    }


def _title(item: Item) -> str:
    return f"{item[0]} {item[1]}"


def _maximum(items: dict[tuple[str, Item], Attempt], item: Item) -> float:
    return max(a.max_score for (_, column), a in items.items() if column == item)


def _wide(writer: CsvWriter, kind: Format, grid: _Grid) -> None:
    items, students, columns = grid
    titles = [_title(c) for c in columns]
    if kind == "canvas":
        writer.writerow(
            ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *titles]
        )
        writer.writerow(
            [
                "Points Possible",
                "",
                "",
                "",
                "",
                *(f"{_maximum(items, c):g}" for c in columns),
            ]
        )
    else:
        writer.writerow(["ID number", *titles])
    for student in students:
        scores = [
            f"{items[(student, c)].score:g}" if (student, c) in items else ""
            for c in columns
        ]
        lead = [student, "", student, student, ""] if kind == "canvas" else [student]
        writer.writerow([*lead, *scores])


def _gradescope(writer: CsvWriter, grid: _Grid) -> None:
    items, students, columns = grid
    writer.writerow(
        ["Name", "SID", "Email", "Assignment", "Total Score", "Max Points", "Status"]
    )
    for column in columns:
        if column[1] != "assignment":
            continue
        for student in students:
            attempt = items.get((student, column))
            if attempt is None:
                writer.writerow([student, student, "", column[0], "", "", "Missing"])
            else:
                writer.writerow(
                    [
                        student,
                        student,
                        "",
                        column[0],
                        f"{attempt.score:g}",
                        f"{attempt.max_score:g}",
                        "Graded",
                    ]
                )


def _plain(writer: CsvWriter, grid: _Grid) -> None:
    items, students, columns = grid
    writer.writerow(
        ["student", "module", "kind", "score", "max_score", "percent", "finished_at"]
    )
    for student in students:
        for column in columns:
            attempt = items.get((student, column))
            if attempt is None:
                continue
            when = datetime.fromtimestamp(attempt.finished_at, UTC)
            writer.writerow(
                [
                    student,
                    column[0],
                    column[1],
                    f"{attempt.score:g}",
                    f"{attempt.max_score:g}",
                    f"{attempt.percent:.1f}",
                    when.isoformat(timespec="seconds"),
                ]
            )
