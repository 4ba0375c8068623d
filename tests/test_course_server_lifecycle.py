"""The course server's life: restarts, dead workers, due dates, its database.

Each test starts its own server (the shared one is in test_course_server.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.classroom_fixture import (
    Classroom,
    csrf,
    mlopslab,
    prepare,
    serving,
    submission_zip,
    upload,
)
from tests.postgres import SERVER_URL, needs_postgres, postgres_url  # noqa: F401
from tests.test_course_server import answer_all

pytestmark = pytest.mark.slow


def test_a_hand_in_survives_a_restart_and_a_killed_worker(tmp_path: Path) -> None:
    room = prepare(tmp_path)
    quick = {"MLOPSLAB_COURSE__WORKER_SILENT": "4"}
    with serving(room, workers=0):  # no grader yet: the hand-in waits in the queue
        reply = upload(
            room.login("ana"), "0-intro", submission_zip(hidden="slow 8 yes")
        )
        pk = int(reply.headers["location"].rstrip("/").split("/")[-1])
    with serving(room, workers=0, env=quick):  # the server restarted
        ana = room.login("ana")
        assert _state(ana, pk) == "queued"
        first = _worker(room, quick)
        _wait_for(lambda: _state(ana, pk) == "running", 60, "never started")
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its sandbox
        first.wait()
        # The job is still "running" under a dead worker: a new one takes it over.
        second = _worker(room, quick)
        try:
            page = room.wait_graded(ana, pk, timeout=120)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=60)
        staff = room.login("prof").get(f"/teach/submissions/{pk}/").text
    assert "6 / 6" in page
    assert "graded 2 time(s)" in staff, "the job ran once per worker, no more"


def _worker(room: Classroom, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlopslab.cli.main", "course", "worker", *room.args()],
        env={**os.environ, **env},
        start_new_session=True,
    )


def _state(client: httpx.Client, pk: int) -> str:
    found = re.search(r'class="state (\w+)"', client.get(f"/submissions/{pk}/").text)
    return found.group(1) if found else ""


def _wait_for(condition: object, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.3)
    raise AssertionError(message)


def test_late_work_extensions_and_the_released_solution(tmp_path: Path) -> None:
    due = datetime.now(UTC) - timedelta(days=1, hours=12)
    room = prepare(tmp_path, due=due.strftime("%Y-%m-%dT%H:%M:%SZ"))
    with serving(room):
        prof = room.login("prof")
        token = csrf(prof, "/teach/m/0-intro/")
        later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
        granted = prof.post(
            "/teach/m/0-intro/extend/",
            data={"student": "bob", "due": later, "csrfmiddlewaretoken": token},
            follow_redirects=True,
        )
        assert "bob has until" in granted.text
        ana, bob = room.login("ana"), room.login("bob")
        assert (
            "2 day(s) late: 80% of its score is kept"
            in ana.get("/m/0-intro/assignment/").text
        )
        pk = int(
            upload(ana, "0-intro", submission_zip()).headers["location"].split("/")[-2]
        )
        page = room.wait_graded(ana, pk)
        shown = re.sub(r"<[^>]+>", " ", page)
        assert "4.8 / 6" in page and "2 day(s) late" in page, shown[-900:]
        assert "AFTER-DUE-PASS" in page, "past the due date, after-due checks show"
        assert "on time" in bob.get("/m/0-intro/assignment/").text
        assert ana.get("/m/0-intro/solution/").status_code == 404  # not released
        released = prof.post(
            "/teach/m/0-intro/release/",
            data={"csrfmiddlewaretoken": token},
            follow_redirects=True,
        )
        assert "solution is open" in released.text
        assert ana.get("/m/0-intro/solution/").text == "SOLUTION-TEXT\n"
        assert bob.get("/m/0-intro/solution/").status_code == 404  # still working


def test_serve_refuses_a_students_copy_and_a_busy_port(tmp_path: Path) -> None:
    room = prepare(tmp_path)
    (room.course / "WITHHELD.md").write_text("keys withheld\n")
    for quiz in room.course.glob("*/quiz.yaml"):
        quiz.unlink()
    done = mlopslab("course", "serve", "--port", "1", *room.args())
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "students' copy" in done.stderr or "cannot listen" in done.stderr


def test_a_malformed_roster_names_its_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,role\nana,student\nbob,teacher\n")
    done = mlopslab("course", "roster", "import", str(roster), "--home", str(tmp_path))
    assert done.returncode != 0 and "line 3" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "course.db").exists(), "a bad roster opened the database"


@needs_postgres
@pytest.mark.integration
def test_a_class_on_postgresql_with_two_workers(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    room = prepare(tmp_path, database=postgres_url)
    with serving(room, workers=2):
        clients = {who: room.login(who) for who in ("ana", "bob", "cy")}
        handed = {}
        for who, client in clients.items():
            reply = upload(client, "0-intro", submission_zip(hidden="slow 1 yes"))
            handed[who] = int(reply.headers["location"].rstrip("/").split("/")[-1])
        for who, pk in handed.items():
            assert "6 / 6" in room.wait_graded(clients[who], pk)
        answer_all(clients["ana"], "0-intro")
        exported = mlopslab(
            "course",
            "gradebook",
            "--export",
            "csv",
            "--home",
            str(room.home),
            "--course",
            str(room.course),
            env={"MLOPSLAB_COURSE__DATABASE": postgres_url},
        )
        _drop(postgres_url)  # the database goes away under the server
        down = clients["ana"].get("/")
        assert down.status_code == 503 and "database is unavailable" in down.text
    assert exported.returncode == 0, exported.stderr
    assert all(who in exported.stdout for who in ("ana", "bob", "cy"))


def _drop(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nana\n")
    done = mlopslab(
        "course",
        "roster",
        "import",
        str(roster),
        "--home",
        str(tmp_path),
        "--database-url",
        "postgresql://nobody:x@127.0.0.1:1/nothing",
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "cannot open the course database" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
