"""The course server against its performance targets, over real HTTP on loopback.

1. Start: `mlopslab course serve` (one grading worker, the default) until
   `/login/` answers 200, on a fresh workspace whose database is already
   migrated, and on one whose database is new (the first start migrates).
2. Pages: with `--students` students' history in all 10 modules of the real
   course (lesson views, graded and demo quiz runs, submissions with their
   checks' results), the class grid (`/teach/`, an instructor) and a student's
   home (`/`), requested one after another on one keep-alive connection.
3. Quizzes: 100 students at once each open a graded quiz (their second
   attempt) and answer every question, with no pause ("burst") and with 1-3 s
   of thought before each answer ("paced"); every request is timed.
4. Grading queue: 30 zips handed in at once to the small graded course of the
   server's tests (three one-file checks: the time is the queue and the
   sandboxed grader's overhead per submission), with 1 and 2 workers.

The database is seeded directly (`use_database`, bulk inserts, unusable
passwords); most students are signed in by sessions written into it, a few
through the login form. Every server runs in its own process group, in a
temporary folder, and is stopped on exit, Ctrl-C included.

    .venv/bin/python -m benchmarks.course_server [--runs 3] [--students 200]
        [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from tests.classroom_fixture import submission_zip, write_graded_course
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COURSE = REPO / "course"
PASSWORD = "bench-pass-1"  # the few accounts that sign in through the form
BACKEND = "django.contrib.auth.backends.ModelBackend"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

STARTED: list[subprocess.Popen[bytes]] = []


# --- processes -------------------------------------------------------------


def launch(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A process in its own process group (its workers and sandboxes too)."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command,
            cwd=log.parent,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    STARTED.append(process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group (the server stops its workers), then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if process in STARTED:
        STARTED.remove(process)


def stop_all() -> None:
    for process in list(STARTED):
        stop(process)


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def serve_command(home: Path, course: Path, port: int, workers: int) -> list[str]:
    return [
        str(BIN / "mlopslab"),
        "course",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--home",
        str(home),
        "--course",
        str(course),
    ]


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


@contextlib.contextmanager
def server(
    home: Path, course: Path, workers: int, log: Path
) -> Iterator[tuple[str, float]]:
    """A running `course serve`: its URL and the seconds until /login/ said 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = launch(serve_command(home, course, port, workers), log)
    try:
        wait_ready(f"{url}/login/", process, timeout=120)
        yield url, time.perf_counter() - started
    finally:
        stop(process)


# --- the database, seeded in a child process --------------------------------


def seed(spec: dict[str, Any]) -> dict[str, str]:
    """Run `seed_here` in a child (Django is configured once per process and
    signs sessions with the workspace's key); return the sessions it made."""
    path = Path(spec["home"]).parent / f"seed-{os.getpid()}-{time.time_ns()}.json"
    path.write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.course_server", "--seed", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{done.stderr[-3000:]}")
    sessions: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return sessions


def seed_here(spec_path: Path) -> None:
    """Accounts, history and sessions, as the spec says; print the sessions."""
    spec = json.loads(spec_path.read_text())
    from mlopslab.course.classroom.database import database_url, use_database

    home = Path(spec["home"])
    url = database_url(home / "course.db")
    use_database(url, home, Path(spec["course"]).resolve())
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.db import transaction

    from mlopslab.course.classroom.models import Member

    students: list[str] = spec["students"]
    with transaction.atomic():
        users = [User(username="prof", is_staff=True, is_superuser=True)]
        users += [User(username=s) for s in students]
        for user in users:  # unusable: no hashing; a few get one below
            user.password = make_password(None)
        User.objects.bulk_create(users, batch_size=500)
        made = {u.username: u for u in User.objects.all()}
        for name in ["prof", *spec["passwords"]]:
            made[name].set_password(PASSWORD)
            made[name].save(update_fields=["password"])
        Member.objects.bulk_create(
            [Member(user=made["prof"], student="prof", role="instructor")]
            + [
                Member(user=made[s], student=s, name=f"Student {s}", role="student")
                for s in students
            ],
            batch_size=500,
        )
        if spec["history"]:
            _history(students, random.Random(7))
    sessions = {name: _session(made[name]) for name in spec["sessions"]}
    print(json.dumps(sessions))


def _session(user: Any) -> str:
    """A signed-in session for `user`, as the login form would leave it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = BACKEND
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


def _history(students: list[str], rng: random.Random) -> None:
    """Every student in every module: the lesson opened (mostly), one graded
    quiz attempt (one left), about half the demo quizzes, and in graded
    modules one to three submissions, each graded with its checks' results."""
    from datetime import UTC, timedelta

    from mlopslab.course.checks_loader import load_checks
    from mlopslab.course.classroom.models import (
        Attempt,
        Extension,
        LessonView,
        QuizRun,
        Submission,
    )
    from mlopslab.course.quiz import make_variant
    from mlopslab.course.server.syllabus import units

    start = time.time() - 30 * 86400
    views: list[Any] = []
    runs: list[tuple[Any, Any]] = []  # (QuizRun, its Attempt)
    handed: list[tuple[Any, Any]] = []  # (Submission, its Attempt)
    checks = {u.id: load_checks(u.folder, hidden=True) for u in units() if u.policy}
    for student in students:
        for unit in units():
            if rng.random() < 0.9:
                views.append(
                    LessonView(
                        student=student,
                        module=unit.id,
                        first_opened=start,
                        last_opened=start + 3600,
                    )
                )
            assert unit.quiz is not None
            takes = [""] + [d for d in unit.demos if rng.random() < 0.5]
            for demo in takes:
                variant = make_variant(unit.quiz, student, unit.id, demo or None)
                answers = {q.id: "A" for q in variant.questions}
                points = {q.id: float(rng.random() < 0.7) for q in variant.questions}
                run = QuizRun(
                    student=student,
                    module=unit.id,
                    number=0,
                    demo=demo,
                    seed=variant.seed,
                    started_at=start,
                    answers=answers,
                    points=points,
                )
                attempt = Attempt(
                    student=student,
                    module=unit.id,
                    kind="quiz",
                    variant_seed=variant.seed,
                    demo=demo or None,
                    answers=answers,
                    details=points,
                    score=sum(points.values()),
                    max_score=float(len(points)),
                    started_at=start,
                    finished_at=start + 600,
                )
                runs.append((run, attempt))
            for number in range(rng.randint(1, 3) if unit.id in checks else 0):
                uploaded = datetime.fromtimestamp(start + number * 3600, UTC)
                results = [
                    {
                        "name": c.name,
                        "number": str(n),
                        "score": c.points if rng.random() < 0.8 else 0.0,
                        "max_score": c.points,
                        "status": "passed",
                        "visibility": c.visibility,
                        "output": (c.success + " ") * 4 + "\n" + "detail line\n" * 8,
                        "execution_time": round(rng.uniform(0.5, 20), 2),
                        "id": c.id,
                    }
                    for n, c in enumerate(checks[unit.id], start=1)
                ]
                score = sum(r["score"] for r in results)
                top = sum(r["max_score"] for r in results)
                sub = Submission(
                    student=student,
                    module=unit.id,
                    uploaded_at=uploaded,
                    filename=f"{student}-{unit.id}-{number}.zip",
                    sha256="0" * 64,
                    size=40_000,
                    status="graded",
                    score=score,
                    max_score=top,
                    summary=f"{score:g} / {top:g}",
                    results=results,
                    graded_at=uploaded + timedelta(seconds=40),
                    runs=1,
                )
                attempt = Attempt(
                    student=student,
                    module=unit.id,
                    kind="assignment",
                    answers={},
                    details={r["id"]: r["score"] for r in results},
                    score=score,
                    max_score=top,
                    started_at=uploaded.timestamp(),
                    finished_at=uploaded.timestamp() + 40,
                )
                handed.append((sub, attempt))
    LessonView.objects.bulk_create(views, batch_size=1000)
    Attempt.objects.bulk_create([a for _, a in runs + handed], batch_size=1000)
    for run, attempt in runs:
        run.attempt = attempt
    QuizRun.objects.bulk_create([r for r, _ in runs], batch_size=1000)
    for sub, attempt in handed:
        sub.attempt = attempt
    Submission.objects.bulk_create([s for s, _ in handed], batch_size=500)
    graded = [u.id for u in units() if u.policy]
    Extension.objects.bulk_create(
        [
            Extension(
                student=students[i],
                module=graded[i % len(graded)],
                due=datetime.now(UTC) + timedelta(days=7),
            )
            for i in range(0, len(students), 20)
        ]
    )


# --- measuring --------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def verdict(measured: float, target: float) -> str:
    return "PASS" if measured <= target else "MISS"


def login(url: str, user: str) -> httpx.Client:
    """A client signed in through the login form (CSRF and all)."""
    client = httpx.Client(base_url=url, timeout=60)
    token = CSRF.search(client.get("/login/").text)
    assert token, "no CSRF token on /login/"
    reply = client.post(
        "/login/",
        data={
            "username": user,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token.group(1),
        },
    )
    if reply.status_code != 302:
        raise RuntimeError(f"login as {user}: {reply.status_code}")
    return client


def new_home(scratch: Path, name: str, template: Path | None) -> Path:
    home = scratch / name / "home"
    if template is None:
        home.mkdir(parents=True)
    else:
        shutil.copytree(template, home)
    return home


# 1. start --------------------------------------------------------------------


def bench_start(scratch: Path, runs: int) -> list[tuple[str, list[float]]]:
    template = scratch / "migrated" / "home"
    template.mkdir(parents=True)
    seed(_spec(template, COURSE, [], history=False))
    found: dict[str, list[float]] = {"migrated database": [], "new database": []}
    for number in range(runs):
        for key, source in (("migrated database", template), ("new database", None)):
            home = new_home(scratch, f"start-{number}-{key[:3]}", source)
            with server(home, COURSE, 1, home.parent / "serve.log") as (_, seconds):
                found[key].append(seconds)
    return list(found.items())


def report_start(rows: list[tuple[str, list[float]]], runs: int) -> None:
    print(
        f"\n1. `course serve` until /login/ answers 200 (real course, 1 worker,"
        f" median of {runs})"
    )
    print(
        f"{'workspace':<20}{'median s':>10}{'min s':>8}{'max s':>8}"
        f"{'target s':>10}{'':>6}"
    )
    for label, times in rows:
        median = statistics.median(times)
        print(
            f"{label:<20}{median:>10.2f}{min(times):>8.2f}{max(times):>8.2f}"
            f"{3.0:>10.1f}{verdict(median, 3.0):>6}"
        )


# 2. pages --------------------------------------------------------------------


def time_page(client: httpx.Client, path: str, count: int, marker: str) -> list[float]:
    for _ in range(3):  # the first renders compile templates: not counted
        reply = client.get(path)
        reply.raise_for_status()
        if marker not in reply.text:
            raise RuntimeError(f"{path} does not show {marker!r}")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        reply = client.get(path)
        times.append(time.perf_counter() - started)
        if reply.status_code != 200:
            raise RuntimeError(f"{path}: {reply.status_code}")
    return times


def bench_pages(
    url: str, students: list[str], count: int, runs: int
) -> list[tuple[str, list[float], int]]:
    prof, student = login(url, "prof"), login(url, students[0])
    grid: list[float] = []
    home: list[float] = []
    try:
        for _ in range(runs):
            grid += time_page(prof, "/teach/", count, students[-1])
            home += time_page(student, "/", count, "My modules")
        sizes = (len(prof.get("/teach/").content), len(student.get("/").content))
    finally:
        prof.close()
        student.close()
    return [
        ("/teach/ (class grid)", grid, sizes[0]),
        ("/ (student home)", home, sizes[1]),
    ]


def report_pages(rows: list[tuple[str, list[float], int]], students: int) -> None:
    print(
        f"\n2. pages with {students} students x 10 modules of history,"
        " sequential on one keep-alive connection"
    )
    print(
        f"{'page':<22}{'n':>5}{'KB':>6}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}"
        f"{'target p95':>11}{'':>6}"
    )
    for label, times, size in rows:
        p95 = percentile(times, 0.95) * 1000
        print(
            f"{label:<22}{len(times):>5}{size // 1024:>6}"
            f"{statistics.median(times) * 1000:>8.1f}{p95:>8.1f}"
            f"{max(times) * 1000:>8.1f}{'100 ms':>11}{verdict(p95, 100):>6}"
        )


# 3. quizzes ------------------------------------------------------------------


def answer_fields(section: str) -> dict[str, str]:
    """A well-formed answer to one question, from its form."""
    if 'type="radio"' in section or 'type="checkbox"' in section:
        return {"choice": "A"}
    if "right order" in section:
        count = len(re.findall(r"<li>", section))
        return {"answer": "ABCDEFGHIJ"[:count]}
    if 'inputmode="decimal"' in section:
        return {"answer": "1"}
    return {"answer": "an answer"}


Mode = tuple[str, float, tuple[float, float]]  # name, opens spread over s, think s
MODES: list[Mode] = [
    ("burst", 0.0, (0.0, 0.0)),
    ("paced", 0.0, (1.0, 3.0)),
    ("staggered", 5.0, (1.0, 3.0)),
]


async def take_quiz(
    client: httpx.AsyncClient,
    module: str,
    mode: Mode,
    times: list[float],
    errors: list[str],
    rng: random.Random,
) -> None:
    _, spread, think = mode
    async with client:

        async def timed(method: str, path: str, **kwargs: Any) -> httpx.Response:
            started = time.perf_counter()
            try:
                reply = await client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                times.append(time.perf_counter() - started)
                errors.append(f"{path}: {exc!r}")
                raise
            times.append(time.perf_counter() - started)
            if reply.status_code != 200:
                errors.append(f"{method} {path}: {reply.status_code}")
            return reply

        try:
            if spread:
                await asyncio.sleep(rng.uniform(0, spread))
            page = (await timed("GET", f"/m/{module}/quiz/")).text
            token = CSRF.search(page)
            sections = page.split('<section class="card question"')[1:]
            if not token or not sections:
                errors.append(f"{module}: no open quiz ({page[:80]!r})")
                return
            for number, section in enumerate(sections, start=1):
                action = re.search(r'action="(/quiz/\d+/[^/"]+/)"', section)
                if not action:
                    errors.append(f"{module}: question {number} has no form")
                    continue
                if think[1]:
                    await asyncio.sleep(rng.uniform(*think))
                data = {
                    **answer_fields(section),
                    "number": str(number),
                    "csrfmiddlewaretoken": token.group(1),
                }
                reply = await timed(
                    "POST", action.group(1), data=data, headers={"HX-Request": "true"}
                )
                if reply.status_code == 200 and "key:" not in reply.text:
                    errors.append(f"{action.group(1)}: the answer was not marked")
        except httpx.HTTPError:
            return


async def class_takes_quizzes(
    url: str, sessions: list[str], modules: list[str], offset: int, mode: Mode
) -> tuple[list[float], list[str], float]:
    times: list[float] = []
    errors: list[str] = []
    # Every client is made before the clock starts: making one builds an SSL
    # context (tens of ms of this process's CPU), and 100 made inside the burst
    # were counted as the server's time.
    clients = [
        httpx.AsyncClient(base_url=url, cookies={"sessionid": session}, timeout=120)
        for session in sessions
    ]
    started = time.perf_counter()
    await asyncio.gather(
        *(
            take_quiz(
                client,
                modules[(index + offset) % len(modules)],
                mode,
                times,
                errors,
                random.Random(index),
            )
            for index, client in enumerate(clients)
        )
    )
    return times, errors, time.perf_counter() - started


QuizRow = tuple[str, int, list[float], list[str], float]


def bench_quizzes(
    url: str, takers: list[str], alone: str, modules: list[str], runs: int
) -> list[QuizRow]:
    """Each run, each mode: every taker takes another module's second attempt
    (so at most len(modules) runs x modes); first one student alone."""
    rows: list[QuizRow] = []
    offset = 0
    for label, sessions, modes in (
        ("alone", [alone], [("alone", 0.0, (0.0, 0.0))]),
        ("class", takers, MODES),
    ):
        for mode in modes:
            times: list[float] = []
            errors: list[str] = []
            walls: list[float] = []
            for _ in range(runs):
                got, wrong, wall = asyncio.run(
                    class_takes_quizzes(url, sessions, modules, offset, mode)
                )
                offset += 1
                times += got
                errors += wrong
                walls.append(wall)
            if label == "alone":
                offset = 0  # the lone student's attempts are their own
            rows.append(
                (mode[0], len(sessions), times, errors, statistics.median(walls))
            )
    return rows


def report_quizzes(rows: list[QuizRow], runs: int) -> None:
    print(
        "\n3. students taking a graded quiz (their 2nd attempt) at once: open it,"
        " answer every\n   question; every request timed, pooled over"
        f" {runs} run(s). burst: no pause; paced: 1-3 s\n   before each answer;"
        " staggered: paced, and the quiz opened at a random moment in 5 s"
    )
    print(
        f"{'mode':<11}{'students':>9}{'requests':>9}{'errors':>7}{'p50 ms':>8}"
        f"{'p95 ms':>8}{'max ms':>8}{'wall s':>8}{'target':>18}{'':>6}"
    )
    for label, students, times, errors, wall in rows:
        p95 = percentile(times, 0.95) * 1000
        ok = not errors and p95 <= 250
        print(
            f"{label:<11}{students:>9}{len(times):>9}{len(errors):>7}"
            f"{statistics.median(times) * 1000:>8.1f}{p95:>8.1f}"
            f"{max(times) * 1000:>8.1f}{wall:>8.1f}{'0 err, p95 250 ms':>18}"
            f"{'PASS' if ok else 'MISS':>6}"
        )
        for error in errors[:3]:
            print(f"    e.g. {error}")


# 4. grading queue --------------------------------------------------------------


def db_rows(home: Path, query: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{home / 'course.db'}?mode=ro", uri=True, timeout=20)
    ) as db:
        return db.execute(query).fetchall()


async def hand_in(url: str, session: str) -> int | None:
    async with httpx.AsyncClient(
        base_url=url, cookies={"sessionid": session}, timeout=120
    ) as client:
        page = await client.get("/m/0-intro/assignment/")
        token = CSRF.search(page.text)
        if not token:
            return None
        reply = await client.post(
            "/m/0-intro/assignment/",
            data={"csrfmiddlewaretoken": token.group(1)},
            files={"upload": ("work.zip", submission_zip())},
        )
        if reply.status_code != 302:
            return None
        return int(reply.headers["location"].rstrip("/").split("/")[-1])


async def hand_in_all(url: str, sessions: list[str]) -> list[int | None]:
    return list(await asyncio.gather(*(hand_in(url, s) for s in sessions)))


def stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def one_queue_run(
    scratch: Path, template: Path, course: Path, sessions: list[str], workers: int
) -> dict[str, float]:
    home = new_home(scratch, f"queue-{workers}-{time.time_ns()}", template)
    with server(home, course, workers, home.parent / "serve.log") as (url, _):
        deadline = time.monotonic() + 120
        while (
            db_rows(home, "SELECT count(*) FROM classroom_workerbeat")[0][0] < workers
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{workers} worker(s) never beat")
            time.sleep(0.2)
        handed = asyncio.run(hand_in_all(url, sessions))
        accepted = [pk for pk in handed if pk is not None]
        deadline = time.monotonic() + 60 * len(sessions)
        while time.monotonic() < deadline:
            busy = db_rows(
                home,
                "SELECT count(*) FROM classroom_submission"
                " WHERE status IN ('queued', 'running')",
            )[0][0]
            if busy == 0:
                break
            time.sleep(0.5)
        rows = db_rows(
            home,
            "SELECT id, status, score, max_score, uploaded_at, graded_at"
            " FROM classroom_submission",
        )
    known = {row[0]: row for row in rows}
    done = [known[pk] for pk in accepted if pk in known]
    graded = [r for r in done if r[1] == "graded"]
    first = min(stamp(r[4]) for r in done) if done else 0.0
    last = max((stamp(r[5]) for r in done if r[5]), default=first)
    span = max(last - first, 1e-9)
    return {
        "sent": len(sessions),
        "graded": len(graded),
        "full": sum(r[2] == r[3] for r in graded),
        "failed": sum(r[1] == "failed" for r in done),
        "lost": len(sessions) - len(graded) - sum(r[1] == "failed" for r in done),
        "span": span,
        "per_minute": len(graded) / span * 60,
    }


SANDBOXED_CHECK = """

@check("answer.txt read in the sandbox", points=1, success="SANDBOX-PASS")
def sandboxed(ctx: Context) -> None:
    outcome = ctx.shell("cat answer.txt")
    ctx.expect(outcome.code == 0 and "42" in outcome.stdout, outcome.describe())
"""


def bench_queue(
    scratch: Path, count: int, runs: int, worker_counts: list[int]
) -> list[tuple[str, int, list[dict[str, float]]]]:
    """Each course: the tests' small one, and the same with one more check that
    runs a command in the sandbox (its start and teardown per submission)."""
    plain = write_graded_course(scratch / "small-course")
    shelled = write_graded_course(scratch / "small-course-shell")
    checks = shelled / "0-intro" / "assignment" / "checks.py"
    checks.write_text(checks.read_text() + SANDBOXED_CHECK)
    template = scratch / "queue-template" / "home"
    template.mkdir(parents=True)
    names = [f"h{n:03d}" for n in range(count)]
    sessions = seed(_spec(template, plain, names, history=False, sessions=names))
    ordered = [sessions[n] for n in names]
    rows = []
    for label, course in (("3 file checks", plain), ("+1 sandboxed cmd", shelled)):
        for workers in worker_counts:
            found = [
                one_queue_run(scratch, template, course, ordered, workers)
                for _ in range(runs)
            ]
            rows.append((label, workers, found))
    return rows


def report_queue(
    rows: list[tuple[str, int, list[dict[str, float]]]], count: int
) -> None:
    print(
        f"\n4. {count} zips handed in at once (all uploads within"
        " about a second) to the tests' small graded\n   course (0-intro: one"
        " public, one after-due-date and one hidden check, each reading one"
        " file),\n   so the time is the queue and the grader's overhead per"
        " submission; '+1 sandboxed cmd' adds\n   a check that runs `cat` in"
        " the sandbox"
    )
    print(
        f"{'checks':<18}{'workers':>7}{'graded':>8}{'full':>6}{'failed':>7}"
        f"{'lost':>5}{'drain s':>9}{'s/sub':>7}{'subs/min':>9}"
        f"  {'target':<24}{'':>6}"
    )
    for label, workers, found in rows:
        graded = min(int(f["graded"]) for f in found)
        failed = max(int(f["failed"]) for f in found)
        lost = max(int(f["lost"]) for f in found)
        full = min(int(f["full"]) for f in found)
        span = statistics.median(f["span"] for f in found)
        rate = statistics.median(f["per_minute"] for f in found)
        ok = graded == count and lost == 0 and failed == 0 and rate >= count
        print(
            f"{label:<18}{workers:>7}{graded:>5}/{count:<2}{full:>6}{failed:>7}"
            f"{lost:>5}{span:>9.1f}{span / count:>7.2f}{rate:>9.0f}"
            f"  {f'all, none lost, >={count}/min':<24}{'PASS' if ok else 'MISS':>6}"
        )
    print(
        "   drain: first upload to last grade, from the database's timestamps;"
        f" median of {len(rows[0][2])} run(s); counts: the worst run"
    )


# --- main -----------------------------------------------------------------------


def _spec(
    home: Path,
    course: Path,
    students: list[str],
    history: bool,
    sessions: list[str] | None = None,
    passwords: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "home": str(home),
        "course": str(course),
        "students": students,
        "history": history,
        "sessions": sessions or [],
        "passwords": passwords or [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--requests", type=int, default=40, help="per page per run")
    parser.add_argument("--takers", type=int, default=100, help="students at once")
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--quick", action="store_true", help="small numbers")
    parser.add_argument("--seed", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed is not None:
        seed_here(args.seed)
        return
    if args.quick:
        args.runs, args.students, args.requests = 1, 30, 10
        args.takers, args.submissions = min(args.takers, 20), 6
    signal.signal(signal.SIGTERM, _interrupted)
    scratch = Path(tempfile.mkdtemp(prefix="mlopslab-course-bench-"))
    try:
        run(args, scratch)
    finally:
        stop_all()
        shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, scratch: Path) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"course server benchmark: {os.cpu_count()} cores, runs={args.runs}"
        f" (load average before: {load})"
    )
    if 1 in args.only:
        report_start(bench_start(scratch, args.runs), args.runs)
    if {2, 3} & set(args.only):
        names = [f"s{n:03d}" for n in range(args.students)]
        takers = names[: min(args.takers, args.students - 1)]
        alone = names[len(takers)]
        home = scratch / "class" / "home"
        home.mkdir(parents=True)
        started = time.perf_counter()
        sessions = seed(
            _spec(
                home,
                COURSE,
                names,
                True,
                sessions=[*takers, alone],
                passwords=names[:1],
            )
        )
        print(
            f"\n(seeded {args.students} students' history in"
            f" {time.perf_counter() - started:.1f} s)"
        )
        with server(home, COURSE, 0, home.parent / "serve.log") as (url, _):
            if 2 in args.only:
                report_pages(
                    bench_pages(url, names, args.requests, args.runs), args.students
                )
            if 3 in args.only:
                modules = [p.parent.name for p in sorted(COURSE.glob("*/quiz.yaml"))]
                runs = min(args.runs, len(modules) // len(MODES))
                rows = bench_quizzes(
                    url, [sessions[t] for t in takers], sessions[alone], modules, runs
                )
                report_quizzes(rows, runs)
    if 4 in args.only:
        report_queue(
            bench_queue(scratch, args.submissions, args.runs, args.workers),
            args.submissions,
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n(load average after: {load})")


if __name__ == "__main__":
    main()
