"""`mlopslab course serve|worker|roster|token|submit`: the course server.

The server and its workers keep the class database that `course grade`,
`course gradebook` and `course progress` also use (see course_context).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from mlopslab.cli.context import (
    ConfigOpt,
    HomeOpt,
    check_port,
    open_workspace,
    resolve_config,
)
from mlopslab.cli.course_context import (
    AllowUnfencedOpt,
    CourseOpt,
    ModuleArg,
    ServerOpt,
    TokenOpt,
    course_database,
    course_root,
    course_server,
    require_fences,
    server_module,
)
from mlopslab.config import Config
from mlopslab.errors import CourseError, first_line

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="The class database (default: course.db in the workspace; or "
        "postgresql://...). Also MLOPSLAB_COURSE__DATABASE.",
    ),
]


def _open(cfg: Config, database: str | None, course: Path | None) -> Path:
    """Configure this process for the class database; return the course folder."""
    from mlopslab.course.server.app import configure

    root = course_root(cfg, course)
    home = open_workspace(cfg).home
    configure(course_database(cfg, database), home, root, cfg.course.attempt_policy)
    return root


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8100,
    workers: Annotated[
        int, typer.Option(help="Grading workers to start beside the server.")
    ] = 1,
    processes: Annotated[
        int, typer.Option(help="Server processes (default: one per core, at most 4).")
    ] = 0,
    database_url: DatabaseOpt = None,
    allow_unfenced: AllowUnfencedOpt = False,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the course: lessons, quizzes, hand-ins, grades, the class grid."""
    from mlopslab.course.server.app import (
        serve as run_server,
    )
    from mlopslab.course.server.app import start_workers, stop_workers

    if workers < 0 or processes < 0:
        raise CourseError("--workers and --processes cannot be negative", "give 0+")
    if workers:
        require_fences(allow_unfenced)  # before anything listens or is written
    processes = processes or min(4, os.cpu_count() or 1)
    cfg = resolve_config(config, home)
    check_port(host, port)
    root = _open(cfg, database_url, course)  # fails here, once, on a bad course
    setup = {
        "url": course_database(cfg, database_url),
        "home": str(open_workspace(cfg).home.resolve()),
        "course": str(root.resolve()),
        "policy": cfg.course.attempt_policy,
    }
    unfenced = ["--allow-unfenced"] if allow_unfenced else []
    started = start_workers(workers, _worker_args(cfg, database_url, root) + unfenced)
    typer.echo(
        f"course server on http://{host}:{port} ({processes} process(es),"
        f" {workers} grading worker(s)); Ctrl-C stops it"
    )
    try:
        run_server(host, port, processes, setup)
    finally:
        stop_workers(started)


def _worker_args(cfg: Config, database: str | None, root: Path) -> list[str]:
    return [
        "--database-url",
        course_database(cfg, database),
        "--course",
        str(root.resolve()),
        "--home",
        str(cfg.home.resolve()),
    ]


def worker(
    database_url: DatabaseOpt = None,
    allow_unfenced: AllowUnfencedOpt = False,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Grade queued submissions (run more on other machines against PostgreSQL)."""
    require_fences(allow_unfenced)
    cfg = resolve_config(config, home)
    _open(cfg, database_url, course)
    from mlopslab.course.server import workers  # its models need Django set up

    workers.run(silent=cfg.course.worker_silent)


def roster_import(
    file: Annotated[Path, typer.Argument(help="CSV: student[,name,role,password].")],
    passwords: Annotated[
        Path | None,
        typer.Option(help="Write new accounts' passwords here (default: print)."),
    ] = None,
    database_url: DatabaseOpt = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Add or update students and instructors from a roster CSV."""
    from mlopslab.course.classroom.roster import import_roster, read_roster

    entries = read_roster(file)  # every line checked before the database opens
    cfg = resolve_config(config, home)
    _open(cfg, database_url, course)
    made = import_roster(entries)
    typer.echo(f"{len(entries)} roster lines imported, {len(made)} new password(s)")
    lines = "".join(f"{student},{word}\n" for student, word in made.items())
    if passwords is None:
        typer.echo(lines, nl=False)
    elif made:
        passwords.touch(mode=0o600)
        passwords.write_text("student,password\n" + lines, encoding="utf-8")
        typer.echo(f"passwords written to {passwords} (only you can read it)")


def token(
    student: Annotated[str, typer.Argument(help="The student's roster id.")],
    revoke: Annotated[
        bool, typer.Option(help="Revoke every token of this student instead.")
    ] = False,
    database_url: DatabaseOpt = None,
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Make a `course submit` token for a student (shown once), or revoke them."""
    cfg = resolve_config(config, home)
    _open(cfg, database_url, course)
    from django.utils import timezone  # models need Django set up first

    from mlopslab.course.classroom.models import Member, Token
    from mlopslab.course.server.access import new_token

    member = Member.objects.filter(student=student).first()
    if member is None:
        raise CourseError(
            f"no student {student!r} on the roster",
            "import them first: mlopslab course roster import roster.csv",
        )
    if revoke:
        count = Token.objects.filter(member=member, revoked__isnull=True).update(
            revoked=timezone.now()
        )
        typer.echo(f"{count} token(s) of {student} revoked")
        return
    typer.echo(new_token(member))


def submit(
    module: ModuleArg,
    server: ServerOpt,
    token: TokenOpt,
    wait: Annotated[
        bool, typer.Option(help="Wait for the grade and print the feedback.")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 1200,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Hand in this repository (its committed work, as a git bundle)."""
    cfg = resolve_config(config, home)
    module = server_module(cfg, None, module)
    reach = course_server(cfg, server, token)
    bundle = _bundle()
    try:
        reply = reach.submit(module, bundle)
    finally:
        bundle.unlink(missing_ok=True)
    typer.echo(f"handed in: submission {reply['id']} of {module} ({reply['lateness']})")
    if wait:
        done = reach.wait(
            int(reply["id"]), timeout, lambda state: typer.echo(f"{state}…")
        )
        _print_result(done)


def _bundle() -> Path:
    """The repository's committed history, as one file."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    if status.strip():
        typer.echo("note: uncommitted changes are not handed in; commit them first")
    handle, name = tempfile.mkstemp(suffix=".bundle")
    os.close(handle)
    _git("bundle", "create", name, "HEAD")
    return Path(name)


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, timeout=120
        )
    except FileNotFoundError as exc:
        raise CourseError("git is not installed", "install git") from exc
    except subprocess.CalledProcessError as exc:
        raise CourseError(
            f"git {args[0]} failed: {first_line(Exception(exc.stderr))}",
            "run `course submit` inside your course repository, with a commit",
        ) from exc
    return done.stdout


def _print_result(reply: dict[str, Any]) -> None:
    if reply["status"] == "failed":
        raise CourseError(
            "the grader could not grade this submission",
            "your instructor sees it too; ask them",
        )
    typer.echo(f"score: {reply['score']:g} / {reply['max_score']:g}")
    for check in reply["checks"]:
        mark = "PASS" if check["status"] == "passed" else "FAIL"
        first = (check["output"] or "").splitlines()[:1]
        typer.echo(f"  {mark} {check['name']}: {''.join(first)}")
    if reply["withheld"]:
        typer.echo(f"  and {reply['withheld']} hidden check(s), counted in the score")


def register(course_app: typer.Typer) -> None:
    course_app.command()(serve)
    course_app.command()(worker)
    roster = typer.Typer(no_args_is_help=True, help="The class roster.")
    roster.command("import")(roster_import)
    course_app.add_typer(roster, name="roster")
    course_app.command()(token)
    course_app.command()(submit)
