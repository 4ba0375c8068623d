"""`mlopslab course grade|gradebook|export|capstone-report`: the instructor's commands.

A learner's own check (`course check`) is in course_cmds; what both use is in
course_context.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlopslab.cli.context import ConfigOpt, HomeOpt, resolve_config
from mlopslab.cli.course_context import (
    AllowUnfencedOpt,
    CourseOpt,
    ModuleArg,
    course_root,
    module_folder,
    module_ids,
    new_folder,
    open_gradebook,
    print_or_write,
    require_fences,
)
from mlopslab.errors import CourseError

if TYPE_CHECKING:
    from mlopslab.course.autograder import Graded
    from mlopslab.course.gradebook import Gradebook


def grade(
    module: ModuleArg,
    submissions: Annotated[
        Path, typer.Argument(help="Folder of NAME/, NAME.zip or NAME.bundle entries.")
    ],
    out: Annotated[Path, typer.Option(help="Where results go, one folder each.")],
    jobs: Annotated[
        int, typer.Option(help="Submissions graded at once (default: cores).")
    ] = 0,
    due: Annotated[
        str | None, typer.Option(help="Override the due date (ISO 8601).")
    ] = None,
    allow_unfenced: AllowUnfencedOpt = False,
    budget: Annotated[
        float, typer.Option(help="Seconds one submission's checks may take in all.")
    ] = 900,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Grade a class: public and hidden checks, results.json each, the gradebook."""
    from mlopslab.course.autograder import find_submissions, grade_class

    require_fences(allow_unfenced)
    if out.exists() and not out.is_dir():
        raise CourseError(f"--out {out} is a file", "give a folder for the results")
    new_folder(out, "--out")
    cfg = resolve_config(config, home)
    folder = module_folder(course_root(cfg, course), module)
    module = folder.name
    found = find_submissions(submissions)
    workers = jobs or os.cpu_count() or 1
    typer.echo(f"grading {len(found)} submissions of {module}, {workers} at a time")
    (out / "results").mkdir(parents=True, exist_ok=True)
    with open_gradebook(cfg) as book:

        def finished(item: Graded) -> None:  # each as soon as it is graded
            _write_result(out, item)
            _record(book, item)

        graded = grade_class(found, folder, workers, _due(due), finished, budget)
    _write_summary(out, graded)
    _print_summary(graded, out)
    _raise_alarms(graded)


def gradebook(
    export: Annotated[
        str, typer.Option(help="canvas, moodle, gradescope or csv.")
    ] = "csv",
    file: Annotated[
        Path | None, typer.Argument(help="Write here (default: print).")
    ] = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Export the gradebook's counted scores in an LMS's import format."""
    from mlopslab.course.exports import FORMATS, Format, write_export
    from mlopslab.course.exports import export as render

    if export not in FORMATS:
        raise CourseError(
            f"unknown export format {export!r}", f"choose one of {', '.join(FORMATS)}"
        )
    cfg = resolve_config(config, home)
    modules = module_ids(course_root(cfg, course))
    with open_gradebook(cfg) as book:
        text = render(book, cfg.course.attempt_policy, cast(Format, export), modules)
    if file is None:
        typer.echo(text, nl=False)
        return
    write_export(text, file)
    typer.echo(f"{max(0, text.count(chr(10)) - 1)} rows written to {file} ({export})")


def export_bundle(
    student: Annotated[
        Path, typer.Option("--student", help="Write the learners' course here.")
    ],
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the course for learners: no hidden checks, answer keys or solutions."""
    from mlopslab.course.bundle import export_student
    from mlopslab.course.content import load_course

    cfg = resolve_config(config, home)
    root = course_root(cfg, course)
    count = export_student(load_course(root), root, new_folder(student, "--student"))
    typer.echo(f"student bundle: {count} files in {student}")


def _due(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CourseError(
            f"--due {text!r} is not an ISO 8601 time", "write e.g. 2026-12-14T23:59Z"
        ) from exc
    if when.tzinfo is None:
        raise CourseError(f"--due {text!r} has no time zone", "add Z or +HH:MM")
    return when


def _write_result(out: Path, item: Graded) -> None:
    """`results/<student>/results.json`, whole or not at all.

    Under `results/`, so no student's name can be one of the grader's files.
    """
    from mlopslab.course.autograder import gradescope_results

    folder = out / "results" / item.student
    folder.mkdir(exist_ok=True)
    partial = folder / ".results.json.partial"
    partial.write_text(json.dumps(gradescope_results(item), indent=2))
    partial.replace(folder / "results.json")
    if item.written:  # the answers to grade by hand, as handed in
        answers = folder / ".answers.json.partial"
        answers.write_text(json.dumps(item.written, indent=2, ensure_ascii=False))
        answers.replace(folder / "answers.json")


def _write_summary(out: Path, graded: list[Graded]) -> None:
    from mlopslab.course.safe_text import SafeWriter

    partial = out / ".summary.csv.partial"
    with partial.open("w", newline="") as handle:
        writer = SafeWriter(csv.writer(handle))
        writer.writerow(
            ["student", "score", "max_score", "days_late", "public", "status"]
        )
        for item in graded:
            writer.writerow(
                [
                    item.student,
                    f"{item.score:g}",
                    f"{item.max_score:g}",
                    item.days_late,
                    item.public_line(),
                    item.problem or "graded",
                ]
            )
    partial.replace(out / "summary.csv")


def _record(book: Gradebook, item: Graded) -> None:
    from mlopslab.course.gradebook import Attempt

    book.record_attempt(
        Attempt(
            student=item.student,
            module=item.module,
            kind="assignment",
            score=item.score,
            max_score=item.max_score,
            answers={"days_late": item.days_late, "problem": item.problem},
            details={r.check.id: r.score for r in item.results},
        )
    )


def _print_summary(graded: list[Graded], out: Path) -> None:
    from mlopslab.course.safe_text import plain

    table = Table(title="class summary", title_justify="left")
    for column in ("student", "score", "public checks", "late", "seconds", "status"):
        table.add_column(column)
    for item in graded:  # learner text: never markup, never terminal codes
        table.add_row(
            Text(plain(item.student)),
            f"{item.score:g}/{item.max_score:g}",
            item.public_line().split(";")[0].removeprefix("public checks passed: "),
            f"{item.days_late} d" if item.days_late else "-",
            f"{item.seconds:.0f}",
            Text(plain(item.problem or "graded")),
        )
    Console(highlight=False, soft_wrap=True).print(table)
    typer.echo(f"results: {out}/results/<student>/results.json, {out}/summary.csv")
    if any(item.written for item in graded):
        typer.echo(
            f"written answers, to grade by hand: {out}/results/<student>/answers.json"
        )


def _raise_alarms(graded: list[Graded]) -> None:
    """The grader's own trouble (copies it could not remove): the class's alarm."""
    alarms = [item.alarm for item in graded if item.alarm]
    if alarms:
        for alarm in alarms:
            typer.echo(f"ALARM: {alarm}", err=True)
        raise CourseError(
            f"{len(alarms)} grading copies could not be removed (grades stand)",
            "free that disk space by hand (see ALARM lines); check the host",
        )


def capstone_report(
    folder: Annotated[Path, typer.Argument(help="The team's repository.")],
    member: Annotated[
        list[str] | None,
        typer.Option(
            "--member",
            help="A member's git e-mail (repeat it); default: every author.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the Markdown here instead.")
    ] = None,
) -> None:
    """Read a team's capstone repository against the checklist: found or missing."""
    from mlopslab.course.capstone import as_markdown, findings, read

    repo = read(folder)
    text = as_markdown(repo, findings(repo, member or []))
    print_or_write(text, out, f"capstone report written: {out}")


def register(course_app: typer.Typer) -> None:
    """Add the instructor's commands to the `mlopslab course` group."""
    course_app.command()(grade)
    course_app.command()(gradebook)
    course_app.command("export")(export_bundle)
    course_app.command("capstone-report")(capstone_report)
