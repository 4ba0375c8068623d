"""A small graded course and a running course server, for the server's tests.

The course is the tests' small course (`course_fixture`) with a graded
assignment in 0-intro: a public check, an after-due-date check and a hidden
one, each reading one file of the submission, so grading takes a second.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.course_fixture import write_course
from tests.servers import free_port, running

PUBLIC_CHECKS = """
from mlopslab.course.grading import Context, check


@check("answer.txt says 42", points=2, success="PUBLIC-PASS", failure="PUBLIC-FAIL")
def answer(ctx: Context) -> None:
    ctx.expect(ctx.file("answer.txt").read_text().strip() == "42", "not 42")


@check(
    "notes.txt is there",
    points=1,
    visibility="after_due_date",
    success="AFTER-DUE-PASS",
    failure="AFTER-DUE-FAIL",
)
def notes(ctx: Context) -> None:
    ctx.expect(ctx.file("notes.txt").is_file(), "no notes.txt")
"""
HIDDEN_CHECKS = """
import time

from mlopslab.course.grading import Context, check


@check("hidden.txt says yes", points=3, success="HIDDEN-PASS", failure="HIDDEN-FAIL")
def hidden(ctx: Context) -> None:
    text = ctx.file("hidden.txt").read_text().strip()
    if text.startswith("slow"):  # a submission that keeps its grader busy
        time.sleep(float(text.split()[1]))
    ctx.expect(text.endswith("yes"), "not yes")
"""
# Each student's own numbers (shown on the assignment page; no check uses them).
VARIANT = {"floor": {"min": 0.8, "max": 0.95}, "feature": {"choices": ["a", "b", "c"]}}
PASSWORDS = {
    "prof": "prof-pass-1",
    "ana": "ana-pass-1",
    "bob": "bob-pass-1",
    "cy": "cy-pass-1",
}


def write_graded_course(root: Path, due: str = "2099-01-01T00:00:00Z") -> Path:
    write_course(root)
    module = root / "0-intro"
    (module / "assignment" / "checks.py").write_text(PUBLIC_CHECKS)
    (module / "assignment" / "assignment.yaml").write_text(
        yaml.safe_dump(
            {"title": "Answer 42", "due": due, "variant": VARIANT}, sort_keys=False
        )
    )
    (module / "instructor").mkdir()
    (module / "instructor" / "checks.py").write_text(HIDDEN_CHECKS)
    (module / "instructor" / "solution.patch").write_text("SOLUTION-TEXT\n")
    return root


def submission_zip(
    answer: str = "42", hidden: str = "yes", notes: bool = True
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("src/mlopslab/__init__.py", "")
        archive.writestr("answer.txt", answer + "\n")
        archive.writestr("hidden.txt", hidden + "\n")
        if notes:
            archive.writestr("notes.txt", "notes\n")
    return buffer.getvalue()


def mlopslab(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlopslab.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@dataclass
class Classroom:
    url: str
    home: Path
    course: Path
    tokens: dict[str, str] = field(default_factory=dict)
    database: str | None = None  # default: course.db in the workspace

    def args(self) -> list[str]:
        found = ["--home", str(self.home), "--course", str(self.course)]
        return found + (["--database-url", self.database] if self.database else [])

    def login(self, user: str, password: str | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        token = csrf(client, "/login/")
        reply = client.post(
            "/login/",
            data={
                "username": user,
                "password": password or PASSWORDS[user],
                "csrfmiddlewaretoken": token,
            },
        )
        assert reply.status_code == 302, reply.text[:300]
        return client

    def wait_graded(self, client: httpx.Client, pk: int, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = client.get(f"/submissions/{pk}/").text
            state = re.search(r'class="state (\w+)"', page)
            if state and state.group(1) in {"graded", "failed"}:
                return page
            time.sleep(0.5)
        raise AssertionError(f"submission {pk} was not graded in {timeout} s")


def csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path).text
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def upload(
    client: httpx.Client, module: str, data: bytes, name: str = "w.zip"
) -> httpx.Response:
    token = csrf(client, f"/m/{module}/assignment/")
    return client.post(
        f"/m/{module}/assignment/",
        data={"csrfmiddlewaretoken": token},
        files={"upload": (name, data)},
    )


def prepare(
    root: Path, database: str | None = None, due: str = "2099-01-01T00:00:00Z"
) -> Classroom:
    """A course, a roster and tokens, in a fresh workspace under `root`."""
    course = write_graded_course(root / "course", due)
    room = Classroom("", root / "home", course, database=database)
    roster = root / "roster.csv"
    roster.write_text(
        "student,name,role,password\n"
        + "".join(
            f"{who},{who.title()},{'instructor' if who == 'prof' else 'student'},{pw}\n"
            for who, pw in PASSWORDS.items()
        )
    )
    done = mlopslab("course", "roster", "import", str(roster), *room.args())
    assert done.returncode == 0, done.stderr
    for who in ("ana", "bob", "cy"):
        made = mlopslab("course", "token", who, *room.args())
        assert made.returncode == 0, made.stderr
        room.tokens[who] = made.stdout.strip()
    return room


@contextmanager
def serving(
    room: Classroom, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[Classroom]:
    port = free_port()
    room.url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "mlopslab.cli.main",
        "course",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *room.args(),
    ]
    with running(
        command, f"{room.url}/login/", room.home.parent / f"serve-{port}.log", env
    ):
        yield room
