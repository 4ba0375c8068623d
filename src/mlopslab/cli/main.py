"""Entry point: one Typer app, one error handler, one line per failure."""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings

import typer
from rich.console import Console
from rich.markup import escape

from mlopslab.cli import (
    assistant_cmds,
    classroom_cmds,
    course_cmds,
    demo_cmds,
    grading_cmds,
    monitor_cmds,
    registry_cmds,
    release_cmds,
    run_cmds,
    serve_cmds,
    team_cmds,
)
from mlopslab.errors import MlopsLabError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="mlopslab: the whole ML lifecycle on your laptop.",
    # Typer shows only per-command options; these apply to every command.
    epilog=(
        "Options every command takes: --home DIR (the workspace; default "
        "./.mlopslab or MLOPSLAB_HOME), --config FILE (default ./mlopslab.toml), "
        "--debug (a traceback with errors). Start with `mlopslab run`, then "
        "`mlopslab demo`; `mlopslab COMMAND --help` for each command."
    ),
)
run_cmds.register(app)
serve_cmds.register(app)
monitor_cmds.register(app)
demo_cmds.register(app)
app.add_typer(registry_cmds.app, name="registry")
course_app = typer.Typer(
    no_args_is_help=True, help="The course: lessons, quizzes, assignments, progress."
)
course_cmds.register(course_app)  # learners: list, show, quiz, ..., check
grading_cmds.register(course_app)  # instructors: grade, gradebook, export
release_cmds.register(course_app)  # instructors: the students' starting repository
classroom_cmds.register(course_app)  # the course server and its workers
app.add_typer(course_app, name="course")
team_cmds.register(app)
assistant_cmds.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; print one line and return the error's exit code on failure."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [arg for arg in args if arg != "--debug"]
    _quiet_libraries(debug)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        result = app(args=args, prog_name="mlopslab", standalone_mode=False)
    except MlopsLabError as exc:
        if debug:
            traceback.print_exc()
        # Escaped: a message names columns, paths and extras (`mlopslab[torch]`).
        err.print(f"[bold red]error:[/] {escape(exc.one_line())}", markup=True)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        return 130
    except typer.exceptions.TyperException as exc:
        # Usage errors (unknown option, bad value): click's own message and code.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        return int(getattr(exc, "exit_code", 2))
    return result if isinstance(result, int) else 0


def _quiet_libraries(debug: bool) -> None:
    # MLflow and alembic narrate database set-up at INFO; users want our summary.
    level = logging.DEBUG if debug else logging.WARNING
    for name in ("mlflow", "alembic", "optuna", "urllib3"):
        logging.getLogger(name).setLevel(level)
    # We chose cloudpickle deliberately (see recording.py); don't warn users each run.
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR if not debug else level)
    if not debug:
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow sets its own loggers' level when imported (in the registry agent,
    # after this runs): its INFO lines about creating tables are not for users.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "DEBUG" if debug else "WARNING")


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
