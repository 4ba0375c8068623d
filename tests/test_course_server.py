"""The course server, over real HTTP: quizzes, hand-ins, grades, and who sees what.

Every student here is treated as an attacker: another student's ids in URLs
and forms, an instructor's pages, a forged or revoked token, a stale form.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
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
from tests.course_fixture import QUIZ
from tests.postgres import SERVER_URL, needs_postgres, postgres_url  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("course-server")]


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    with serving(prepare(tmp_path_factory.mktemp("classroom"))) as started:
        yield started


def explanations() -> list[str]:
    found = []
    for item in QUIZ["questions"]:
        for question in item.get("questions", [item]):
            found.append(question["explanation"])
    return [text for text in found if len(text) > 3]


def answer_all(client: httpx.Client, module: str) -> list[httpx.Response]:
    page = client.get(f"/m/{module}/quiz/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page[:500]
    replies = []
    for action in re.findall(r'action="(/quiz/\d+/[^/"]+/)"', page):
        # Whatever the question's type: a letter, a number, or every letter in order.
        tries = [{"choice": "A"}, {"answer": "1"}]
        tries += [{"answer": "ABCDEFGH"[:n]} for n in range(2, 9)]
        for fields in tries:
            reply = client.post(
                action,
                data={**fields, "csrfmiddlewaretoken": token.group(1)},
                headers={"HX-Request": "true"},
            )
            if reply.status_code != 400:
                break
        replies.append(reply)
    return replies


def test_a_quiz_shows_each_key_only_after_its_answer_is_final(room: Classroom) -> None:
    ana = room.login("ana")
    page = ana.get("/m/0-intro/quiz/").text
    assert "Question 1" in page
    for text in explanations():
        assert text not in page, "an explanation was sent before any answer"
    assert "key:" not in page
    token = csrf(ana, "/m/0-intro/quiz/")
    first = re.findall(r'action="(/quiz/\d+/[^/"]+/)"', page)[0]
    reply = ana.post(first, data={"choice": "A", "csrfmiddlewaretoken": token})
    assert reply.status_code == 200 and "key:" in reply.text
    again = ana.post(first, data={"choice": "B", "csrfmiddlewaretoken": token})
    assert "Your answer: <b>A</b>" in again.text, "a stored answer changed"


def test_a_graded_quiz_allows_two_attempts_and_records_them(room: Classroom) -> None:
    bob = room.login("bob")
    for _ in range(2):
        replies = answer_all(bob, "0-intro")
        assert replies and all(r.status_code == 200 for r in replies)
        assert "this attempt is recorded" in replies[-1].text
    assert "no attempts left" in bob.get("/m/0-intro/quiz/").text
    home = bob.get("/").text
    assert re.search(r"Quiz: [\d.]+ / \d", home), "the home page shows no score"
    done = mlopslab("course", "gradebook", "--export", "csv", *room.args())
    assert done.returncode == 0, done.stderr
    assert "bob" in done.stdout, "the CLI's gradebook is not the server's"


def test_an_upload_is_graded_and_shows_only_what_the_student_may_see(
    room: Classroom,
) -> None:
    ana = room.login("ana")
    reply = upload(ana, "0-intro", submission_zip())
    assert reply.status_code == 302
    pk = int(reply.headers["location"].rstrip("/").split("/")[-1])
    page = room.wait_graded(ana, pk)
    assert "6 / 6" in page, "public, after-due and hidden checks all count"
    assert "PUBLIC-PASS" in page
    assert "HIDDEN-PASS" not in page and "hidden.txt" not in page
    assert "AFTER-DUE-PASS" not in page, "an after-due-date check showed early"
    prof = room.login("prof")
    full = prof.get(f"/teach/submissions/{pk}/").text
    assert "HIDDEN-PASS" in full and "AFTER-DUE-PASS" in full


def test_students_cannot_reach_each_others_work(room: Classroom) -> None:
    bob, ana = room.login("bob"), room.login("ana")
    bobs = upload(bob, "0-intro", submission_zip(answer="7"))
    pk = int(bobs.headers["location"].rstrip("/").split("/")[-1])
    assert ana.get(f"/submissions/{pk}/").status_code == 404
    run = re.search(r"/quiz/(\d+)/", bob.get("/m/0-intro/quiz/").text)
    if run:  # bob may have no attempt left: then there is no run to attack
        token = csrf(ana, "/m/0-intro/quiz/")
        forged = ana.post(
            f"/quiz/{run.group(1)}/gate-a/",
            data={"choice": "A", "csrfmiddlewaretoken": token},
        )
        assert forged.status_code == 404
    api = httpx.get(
        f"{room.url}/api/submissions/{pk}/",
        headers={"Authorization": f"Bearer {room.tokens['ana']}"},
    )
    assert api.status_code == 404
    for path in (
        "/teach/",
        "/teach/queue/",
        f"/teach/submissions/{pk}/",
        "/teach/export/csv/",
        "/teach/m/0-intro/",
    ):
        assert ana.get(path).status_code == 403, path
    assert ana.get("/admin/").status_code == 302  # the admin's own login: not staff


def test_tokens_name_their_student_and_can_be_revoked(room: Classroom) -> None:
    url = f"{room.url}/api/submit/0-intro/"
    files = {"upload": ("w.zip", submission_zip())}
    assert httpx.post(url, files=files).status_code == 401
    forged = httpx.post(url, files=files, headers={"Authorization": "Bearer mlt_x"})
    assert forged.status_code == 401
    made = mlopslab("course", "token", "bob", *room.args()).stdout.strip()
    assert mlopslab("course", "token", "bob", "--revoke", *room.args()).returncode == 0
    revoked = httpx.post(url, files=files, headers={"Authorization": f"Bearer {made}"})
    assert revoked.status_code == 401


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (b"just some text", "w.zip", "neither a zip file nor a git bundle"),
        (b"PK\x03\x04 broken", "w.zip", "cannot be read"),
    ],
)
def test_bad_uploads_get_one_clear_line(
    room: Classroom, data: bytes, name: str, says: str
) -> None:
    reply = upload(room.login("ana"), "0-intro", data, name)
    assert reply.status_code == 400 and says in reply.text


def test_a_zip_bomb_is_refused_at_the_door(room: Classroom) -> None:
    buffer = io.BytesIO()
    block = bytes(2**20)
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.bin", "w", force_zip64=True) as entry,
    ):
        for _ in range(600):  # 600 MB of zeros, under 1 MB zipped
            entry.write(block)
    reply = upload(room.login("ana"), "0-intro", buffer.getvalue())
    assert reply.status_code == 400 and "would unpack to" in reply.text


def test_forms_without_a_valid_csrf_token_get_a_403_page(room: Classroom) -> None:
    ana = room.login("ana")
    reply = ana.post("/m/0-intro/assignment/", files={"upload": ("w.zip", b"PK")})
    assert reply.status_code == 403 and "This form has expired" in reply.text


def test_unknown_modules_and_signed_out_visitors(room: Classroom) -> None:
    ana = room.login("ana")
    assert ana.get("/m/no-such-module/quiz/").status_code == 404
    anonymous = httpx.get(f"{room.url}/m/0-intro/quiz/")
    assert anonymous.status_code == 302 and "/login/" in anonymous.headers["location"]


def test_logins_are_rate_limited(room: Classroom) -> None:
    client = httpx.Client(base_url=room.url)
    for _ in range(5):
        token = csrf(client, "/login/")
        client.post(
            "/login/",
            data={"username": "bob", "password": "wrong", "csrfmiddlewaretoken": token},
        )
    token = csrf(client, "/login/")
    locked = client.post(
        "/login/",
        data={
            "username": "bob",
            "password": "bob-pass-1",
            "csrfmiddlewaretoken": token,
        },
    )
    assert locked.status_code == 429 and "locked" in locked.text


def test_the_terminal_quiz_is_the_graded_one_on_the_server(room: Classroom) -> None:
    # Whatever each question's type, one of these lines is a well-formed answer;
    # a malformed one is asked again.
    lines = "A\n1\nAB\nABC\nABCD\n" * 12
    args = ["--server", room.url, "--token", room.tokens["cy"]]
    done = subprocess.run(
        [sys.executable, "-m", "mlopslab.cli.main", "course", "quiz", "0-intro", *args],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "recorded on the course server" in done.stdout
    assert "point(s)" in done.stdout  # each key arrives after its answer
    page = room.login("cy").get("/").text
    assert re.search(r"Quiz: [\d.]+ / \d", page), "the attempt is not on the server"


def test_course_submit_hands_in_the_committed_work(
    room: Classroom, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "src" / "mlopslab").mkdir(parents=True)
    (repo / "src" / "mlopslab" / "__init__.py").write_text("")
    for name, text in (("answer.txt", "42"), ("hidden.txt", "yes"), ("notes.txt", "n")):
        (repo / name).write_text(text + "\n")
    git = ["git", "-c", "user.name=a", "-c", "user.email=a@b", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "work"], check=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlopslab.cli.main",
            "course",
            "submit",
            "0-intro",
            "--server",
            room.url,
            "--token",
            room.tokens["ana"],
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "score: 6 / 6" in done.stdout and "PUBLIC-PASS" in done.stdout
    assert "HIDDEN-PASS" not in done.stdout
    outside = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlopslab.cli.main",
            "course",
            "submit",
            "0-intro",
            "--server",
            room.url,
            "--token",
            room.tokens["ana"],
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert outside.returncode != 0 and "Traceback" not in outside.stderr
    assert "course repository" in outside.stderr


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
