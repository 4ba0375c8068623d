"""Start the course server (Django under uvicorn) and its local workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from mlopslab.course.classroom.database import use_database
from mlopslab.errors import CourseError

# How `course serve` hands its settings to its server processes. Not MLOPSLAB_*:
# those are configuration overrides.
SETUP_VARIABLE = "_MLOPSLAB_COURSE_SERVER_SETUP"


def configure(
    url: str,
    home: Path,
    course_root: Path,
    policy: str = "best",
    migrated: bool = False,
) -> None:
    """Point this process at the class database and the instructor's course."""
    use_database(url, home, course_root.resolve(), policy, migrated)
    from mlopslab.course.server.syllabus import units

    # Read the course now: a broken one fails at start, not page by page.
    keyless = [unit.id for unit in units() if unit.quiz is None]
    if keyless:
        raise CourseError(
            f"{course_root} is a students' copy: no quiz keys for {keyless[0]}",
            "serve the course from the instructor's checkout (--course DIR)",
        )


def start_workers(count: int, argv: list[str]) -> list[subprocess.Popen[bytes]]:
    """`count` grading workers, each its own process (`mlopslab course worker`)."""
    command = [sys.executable, "-m", "mlopslab.cli.main", "course", "worker", *argv]
    return [subprocess.Popen(command) for _ in range(count)]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def serve(host: str, port: int, processes: int, setup: dict[str, str]) -> None:
    """Serve until interrupted, in `processes` processes.

    Django runs every synchronous view of one process on one thread, so one
    process uses one core; each process sets itself up from `setup` (see
    server/asgi.py).
    """
    import uvicorn

    os.environ[SETUP_VARIABLE] = json.dumps(setup)
    uvicorn.run(
        "mlopslab.course.server.asgi:application",
        host=host,
        port=port,
        workers=processes,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
