"""The course server, over real HTTP: quizzes, hand-ins, grades, and who sees what.

Every student here is treated as an attacker: another student's ids in URLs
and forms, an instructor's pages, a forged or revoked token, a stale form.
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

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


def test_a_question_not_in_the_students_quiz_is_404_not_500(room: Classroom) -> None:
    ana = room.login("ana")
    page = ana.get("/m/0-intro/quiz/").text
    run = re.search(r"/quiz/(\d+)/", page)
    assert run, "no open quiz run"
    token = csrf(ana, "/m/0-intro/quiz/")
    reply = ana.post(
        f"/quiz/{run.group(1)}/no-such-question/",
        data={"choice": "A", "number": "not-a-number", "csrfmiddlewaretoken": token},
    )
    assert reply.status_code == 404


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


def test_an_oversized_body_is_refused_before_it_is_read(room: Classroom) -> None:
    host, port = room.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            b"POST /m/0-intro/assignment/ HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/zip\r\nContent-Length: 30000000\r\n\r\n"
        )
        reply = b""
        while b"hand in at most" not in reply:  # the body may come in a second part
            part = raw.recv(4096)
            if not part:
                break
            reply += part
    assert reply.startswith(b"HTTP/1.1 413") and b"hand in at most 20 MB" in reply


def test_one_hand_in_waits_at_a_time_per_student(room: Classroom) -> None:
    cy = room.login("cy")
    first = upload(cy, "0-intro", submission_zip(hidden="slow 3 yes"))
    assert first.status_code == 302
    again = upload(cy, "0-intro", submission_zip())
    assert again.status_code == 400 and "wait for its grade" in again.text
    room.wait_graded(cy, int(first.headers["location"].rstrip("/").split("/")[-1]))
    assert upload(cy, "0-intro", submission_zip()).status_code == 302


def test_forms_without_a_valid_csrf_token_get_a_403_page(room: Classroom) -> None:
    ana = room.login("ana")
    reply = ana.post("/m/0-intro/assignment/", files={"upload": ("w.zip", b"PK")})
    assert reply.status_code == 403 and "This form has expired" in reply.text


def test_unknown_modules_and_signed_out_visitors(room: Classroom) -> None:
    ana = room.login("ana")
    assert ana.get("/m/no-such-module/quiz/").status_code == 404
    anonymous = httpx.get(f"{room.url}/m/0-intro/quiz/")
    assert anonymous.status_code == 302 and "/login/" in anonymous.headers["location"]


def test_an_expired_session_goes_back_to_the_login_page(room: Classroom) -> None:
    stale = httpx.Client(base_url=room.url, cookies={"sessionid": "expired-or-forged"})
    page = stale.get("/m/0-intro/quiz/")
    assert page.status_code == 302 and "/login/" in page.headers["location"]
    fragment = stale.get("/submissions/1/", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and "/login/" in fragment.headers["HX-Redirect"]


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
    lines = "A\n1\nAB\nABC\nABCD\n"
    args = ["--server", room.url, "--token", room.tokens["cy"]]
    quiz = [sys.executable, "-m", "mlopslab.cli.main", "course", "quiz", "0", *args]
    quiz += ["--course", str(room.course)]  # the student's copy: `0` is 0-intro
    # Five lines answer at least one of the six questions, never all: the input
    # ends mid-quiz, and the answers sent stay on the server.
    stopped = subprocess.run(
        quiz, input=lines, capture_output=True, text=True, timeout=120
    )
    assert stopped.returncode == 130 and "Traceback" not in stopped.stderr
    assert stopped.stderr.strip() == (
        "quiz interrupted; the server keeps the answers you sent: run the same "
        "command to answer the rest"
    )
    done = subprocess.run(
        quiz, input=lines * 12, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0-intro: attempt 1,")  # the same attempt, resumed
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


def test_a_lesson_page_shows_exercises_and_never_their_solutions(
    tmp_path: Path,
) -> None:
    """The server runs from the instructor's checkout, which holds the solutions."""
    from tests.test_course_exercises import EXERCISE, SOLUTION

    prepared = prepare(tmp_path)
    lesson = prepared.course / "0-intro" / "lesson.md"
    first = "```bash run\necho hello > greeting.txt\n```\n"
    lesson.write_text(lesson.read_text().replace(first, first + EXERCISE))
    solutions = prepared.course / "0-intro" / "instructor" / "exercises"
    solutions.mkdir(parents=True)
    (solutions / "shout.sh").write_text(SOLUTION)
    with serving(prepared, workers=0) as started:
        page = started.login("ana").get("/m/0-intro/").text
    assert "Exercise 1: Make the greeting loud" in page
    assert "tr can change case." in page
    assert "loud.txt\ntest" not in page and "&lt; greeting.txt" not in page


def test_the_assignment_page_shows_each_student_their_own_numbers(
    room: Classroom,
) -> None:
    from mlopslab.course.autograder import policy_of
    from mlopslab.course.variants import describe, draw

    spec = policy_of(room.course / "0-intro").variant
    shown = {}
    for who in ("ana", "cy"):  # bob is locked out by the rate-limit test
        page = room.login(who).get("/m/0-intro/assignment/").text
        assert "Your numbers" in page
        lines = describe(draw(spec, who, "0-intro"))
        assert all(f"<code>{line}</code>" in page for line in lines), page[:2000]
        assert f"course check 0-intro --student {who}" in page
        shown[who] = lines
    assert shown["ana"] != shown["cy"]


def test_written_answers_are_graded_by_hand_and_count(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    settings = prepared.course / "0-intro" / "assignment" / "assignment.yaml"
    policy = yaml.safe_load(settings.read_text())
    policy["written"] = [{"id": "why", "points": 2, "prompt": "Why is it 42?"}]
    settings.write_text(yaml.safe_dump(policy))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with zipfile.ZipFile(io.BytesIO(submission_zip())) as plain:
            for name in plain.namelist():
                archive.writestr(name, plain.read(name))
        archive.writestr(
            "ANSWERS.md", "# Answers\n\n## why\nBecause <script>x()</script> it is.\n"
        )
    with serving(prepared) as room:
        ana, prof = room.login("ana"), room.login("prof")
        reply = upload(ana, "0-intro", buffer.getvalue())
        pk = int(reply.headers["location"].rstrip("/").split("/")[-1])
        page = room.wait_graded(ana, pk)
        assert "6 / 8" in page and "awaiting your instructor" in page
        assert "Because &lt;script&gt;x()&lt;/script&gt; it is." in page
        assert "<script>x()" not in page
        report = prof.get("/teach/m/0-intro/").text
        assert "Written answers to grade" in report and f"#{pk}" in report

        action = f"/teach/submissions/{pk}/written/why/"
        token = csrf(prof, f"/teach/submissions/{pk}/")
        for bad in ("3", "-1", "nan", "two"):
            refused = prof.post(
                action, data={"points": bad, "csrfmiddlewaretoken": token}
            )
            assert refused.status_code == 400 and "from 0 to 2" in refused.text, bad
        own = csrf(ana, "/m/0-intro/assignment/")  # her own token: still no
        forged = ana.post(action, data={"points": "2", "csrfmiddlewaretoken": own})
        assert forged.status_code == 403 and "Not yours to see" in forged.text
        missing = f"/teach/submissions/{pk}/written/other/"
        assert (
            prof.post(missing, data={"csrfmiddlewaretoken": token}).status_code == 404
        )
        graded = prof.post(
            action,
            data={
                "points": "1.5",
                "comment": "Say <b>why</b>.",
                "csrfmiddlewaretoken": token,
            },
        )
        assert graded.status_code == 302
        mine = ana.get(f"/submissions/{pk}/").text
        assert "7.5 / 8" in mine and "1.5 / 2" in mine
        assert "Say &lt;b&gt;why&lt;/b&gt;." in mine
        assert "Written answers to grade" not in prof.get("/teach/m/0-intro/").text
        book = prof.get("/teach/export/csv/").text
        assert "7.5" in book, book
