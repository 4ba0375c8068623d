"""`mlopslab course release --out DIR`: the students' starting repository.

An instructor's command: it reads the last commit of the instructor's checkout
(the one holding the course) and writes what students may see; the work is in
`course/release.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlopslab.cli.context import ConfigOpt, HomeOpt, resolve_config
from mlopslab.cli.course_context import CourseOpt, course_root, new_folder


def release(
    out: Annotated[
        Path, typer.Option("--out", help="A new or empty folder to write it into.")
    ],
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the students' repository: no hidden checks, quiz keys or solutions."""
    from mlopslab.course.release import write_release

    cfg = resolve_config(config, home)
    written = write_release(course_root(cfg, course), new_folder(out, "--out"))
    typer.echo(
        f"students' repository: {written.files} files in {written.out}, one commit "
        f"({written.commit[:12]}), from your commit {written.source[:12]}"
    )


def register(course_app: typer.Typer) -> None:
    """Add `release` to the `mlopslab course` group."""
    course_app.command()(release)
