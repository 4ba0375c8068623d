"""What the course's command modules share: options, the course folder, the gradebook.

`course_cmds` (the learners' commands) and `grading_cmds` (the instructor's)
both build on this module and never on each other; `cli/main.py` adds both to
the `mlopslab course` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from mlopslab.cli.context import open_workspace
from mlopslab.config import Config
from mlopslab.errors import CourseError

if TYPE_CHECKING:
    from mlopslab.course.client import Server
    from mlopslab.course.gradebook import Gradebook

ModuleArg = Annotated[
    str,
    typer.Argument(
        help="Module id, its number or a unique start: 3-evaluation, 3 or eval."
    ),
]
CourseOpt = Annotated[
    Path | None,
    typer.Option(
        "--course", help="Course folder (default ./course, else the built-in one)."
    ),
]

ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="The course server's URL (or course.server, MLOPSLAB_COURSE__SERVER).",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Your token from the instructor (or MLOPSLAB_COURSE__TOKEN).",
    ),
]


def course_root(cfg: Config, flag: Path | None) -> Path:
    """--course, else course.root, else ./course, else the course mlopslab ships."""
    import mlopslab

    chosen = flag or cfg.course.root
    if chosen is not None:  # asked for: that folder or a clear error, no fallback
        if not (chosen / "course.yaml").is_file():
            raise CourseError(
                f"no course.yaml in {chosen}",
                "point --course (or course.root) at a course folder",
            )
        return chosen
    package = Path(mlopslab.__file__).resolve().parent
    # ./course, then the copy in the package, then a source checkout's.
    for candidate in (
        Path("course"),
        package / "_course",
        package.parents[1] / "course",
    ):
        if (candidate / "course.yaml").is_file():
            return candidate
    raise CourseError("no course found", "pass --course DIR")


def open_gradebook(cfg: Config) -> Gradebook:
    """The workspace's gradebook; use it as `with open_gradebook(cfg) as book:`."""
    from mlopslab.course.gradebook import Gradebook

    home = open_workspace(cfg).home
    return Gradebook(course_database(cfg), home)


def course_database(cfg: Config, flag: str | None = None) -> str:
    """--database-url, else course.database (MLOPSLAB_COURSE__DATABASE), else
    course.db in the workspace: the one store of the class's grades."""
    from mlopslab.course.classroom.database import database_url

    chosen = flag or cfg.course.database
    return database_url(chosen or cfg.home.resolve() / "course.db")


def module_ids(root: Path) -> list[str]:
    """The modules course.yaml lists (a student bundle has no quiz keys to load)."""
    try:
        listed = yaml.safe_load((root / "course.yaml").read_text(encoding="utf-8"))
        return [str(entry["id"]) for entry in listed["modules"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise CourseError(
            f"cannot read {root / 'course.yaml'}", "run `mlopslab course validate`"
        ) from exc


def module_folder(root: Path, module: str) -> Path:
    """A module's folder, by its id in course.yaml or what `module_id` accepts."""
    return root / module_id(module_ids(root), module)


def module_id(ids: list[str], given: str) -> str:
    """The one module `given` names: its id, its number (`3`), or the unique
    start of its id or of its name (`3-ev`, `eval`); else one line listing ids.

    Every command taking a MODULE comes through here, so each accepts the same.
    """
    wanted = given.strip().lower()
    if wanted in ids:
        return wanted
    if wanted.isdigit():  # a number is exact: `1` is not `10-...`
        found = [i for i in ids if i.split("-", 1)[0] == wanted]
    else:
        found = [i for i in ids if wanted and _starts(i, wanted)]
    if len(found) == 1:
        return found[0]
    problem = (
        f"module {given!r} could be any of {', '.join(found)}"
        if found
        else f"no module {given!r} in the course"
    )
    raise CourseError(problem, f"choose one of: {', '.join(ids)}")


def _starts(module: str, wanted: str) -> bool:
    name = module.split("-", 1)[-1]  # `3-evaluation` is also `evaluation`
    return module.startswith(wanted) or name.startswith(wanted)


def server_module(cfg: Config, course: Path | None, given: str) -> str:
    """The module to name to the course server: `given` expanded (`3` to
    `3-evaluation`) by the student's own copy of the course (--course,
    course.root or ./course), else as typed.

    Never by the copy inside the package: the server's course may be another,
    and a wrong expansion is worse than none. The server answers for a name
    it does not know.
    """
    local = Path("course")
    root = (
        course
        or cfg.course.root
        or (local if (local / "course.yaml").is_file() else None)
    )
    if root is None:
        return given.strip()
    try:
        return module_id(module_ids(root), given)
    except CourseError:
        return given.strip()


def new_folder(out: Path, option: str) -> Path:
    """`out`, a folder a command is to create or fill: its parent must exist.

    A typo in the path must not make folders anywhere on disk.
    """
    if not out.parent.is_dir():
        raise CourseError(
            f"{option} {out}: its parent folder {out.parent} does not exist",
            f"create {out.parent} first, or choose {option} inside an existing folder",
        )
    return out


AllowUnfencedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unfenced",
        help="Grade without bubblewrap (only code you trust: it could read "
        "the hidden checks).",
    ),
]


def require_fences(allow_unfenced: bool) -> None:
    """Grading learner code needs bubblewrap, unless the instructor says otherwise."""
    from mlopslab.course.sandbox import bwrap_works

    if not bwrap_works() and not allow_unfenced:
        raise CourseError(
            "bubblewrap is not usable here, so learner code could read the hidden "
            "checks and this machine's files",
            "install Debian's bubblewrap (apt-get install bubblewrap), or pass "
            "--allow-unfenced for code you trust",
        )


def print_or_write(text: str, out: Path | None, written: str) -> None:
    """`text` to stdout, or whole to `out` (a reader never sees half a file),
    then the line `written` names it with."""
    if out is None:
        typer.echo(text, nl=False)
        return
    new_folder(out, "--out")
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)
    typer.echo(written)


def course_server(cfg: Config, url: str | None, token: str | None) -> Server:
    """The course server to talk to: flags first, then the config."""
    from mlopslab.course.client import Server

    url, token = url or cfg.course.server, token or cfg.course.token
    if not url:
        raise CourseError(
            "no course server given",
            "pass --server URL (your instructor gives it) or set"
            " MLOPSLAB_COURSE__SERVER",
        )
    if not token:
        raise CourseError(
            "no token given",
            "pass --token TOKEN (your instructor gives it) or set"
            " MLOPSLAB_COURSE__TOKEN",
        )
    return Server(url, token)
