"""The sandbox fences learner code in; a check's failure stays its own."""

from __future__ import annotations

import os
import shlex
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlopslab.course.grading import Check, CheckFailed, Context, run_checks
from mlopslab.course.sandbox import Limits, Sandbox, bwrap_works, unshare_works

# Each test starts a real sandbox (bubblewrap, cgroups): the slow tier.
pytestmark = pytest.mark.slow
needs_bwrap = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap is not usable")


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    root = tmp_path / "submission"
    (root / "src").mkdir(parents=True)
    return Sandbox(root, Limits(cpu_seconds=20, memory_bytes=2 * 2**30))


def test_runs_in_its_copy_and_reports_the_exit_code(sandbox: Sandbox) -> None:
    outcome = sandbox.run(
        ["python", "-c", "import os, sys; print(os.getcwd()); sys.exit(4)"], 20
    )
    assert outcome.code == 4
    assert outcome.stdout.strip() == str(sandbox.root)


def test_an_infinite_loop_is_stopped_at_the_time_limit(sandbox: Sandbox) -> None:
    started = time.monotonic()
    outcome = sandbox.run(["python", "-c", "while True: pass"], 2)
    assert outcome.timed_out and outcome.code is None
    assert "did not finish within 2 s" in outcome.describe()
    assert time.monotonic() - started < 10


def test_children_left_running_are_killed(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = sandbox.root / "alive"
    child = f"import time; time.sleep(3); open({str(marker)!r}, 'w')"
    code = (
        f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {child!r}])"
    )
    assert sandbox.run(["python", "-c", code], 20).code == 0
    time.sleep(4)
    assert not marker.exists()


def test_a_huge_allocation_fails_inside(sandbox: Sandbox) -> None:
    outcome = sandbox.run(["python", "-c", "bytearray(10 * 2**30)"], 20)
    assert outcome.code == 1 and "MemoryError" in outcome.stderr


@pytest.mark.skipif(not (bwrap_works() or unshare_works()), reason="no namespaces")
def test_no_network_not_even_the_graders_loopback(sandbox: Sandbox) -> None:
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)
        port = server.getsockname()[1]

        def accept() -> None:
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100))
            except OSError:
                pass

        listener = threading.Thread(target=accept)
        listener.start()
        outcome = sandbox.run(
            [
                "python",
                "-c",
                "import socket; socket.create_connection(('127.0.0.1', "
                f"{port}), timeout=2).sendall(b'leak')",
            ],
            20,
        )
        listener.join()
    assert outcome.code == 1 and not received


@needs_bwrap
def test_nothing_outside_the_copy_is_visible(sandbox: Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / "hidden_checks.py"
    secret.write_text("KEY = 42")
    outcome = sandbox.run(
        ["python", "-c", f"import os; print(os.getuid()); open({str(secret)!r})"], 20
    )
    assert outcome.stdout.strip() == "65534"
    assert "FileNotFoundError" in outcome.stderr


def check(
    name: str,
    run: Callable[[Context], None],
    points: float = 1,
    timeout: float = 30,
) -> Check:
    return Check(name, name, points, "visible", timeout, "ok", "no", run)


def test_each_check_scores_on_its_own(sandbox: Sandbox) -> None:
    calls: list[int] = []

    def once() -> int:
        calls.append(1)
        return len(calls)

    def shared(ctx: Context) -> int:
        return ctx.step("once", once)

    def passes(ctx: Context) -> None:
        ctx.expect(shared(ctx) == 1, "the step ran twice")

    def fails(ctx: Context) -> None:
        shared(ctx)
        raise CheckFailed("not this one")

    def crashes(ctx: Context) -> None:
        raise ZeroDivisionError

    def deletes_its_copy(ctx: Context) -> None:
        # Everything in it goes (the folder itself is the sandbox's mount point).
        ctx.sandbox.run(
            ["python", "-c", "import shutil; shutil.rmtree('.', ignore_errors=True)"],
            20,
        )
        ctx.json("ws/evaluation.json")

    results = run_checks(
        sandbox,
        [
            check("a", passes, 2),
            check("b", fails),
            check("c", crashes),
            check("d", deletes_its_copy),
            check("e", passes, 3),
        ],
    )
    assert [r.score for r in results] == [2, 0, 0, 0, 3]
    assert calls == [1]
    assert results[1].output == "no: not this one"
    assert "could not finish this check (ZeroDivisionError()" in results[2].output
    assert "ws/evaluation.json is missing" in results[3].output


def test_the_grader_never_follows_a_link_out(sandbox: Sandbox, tmp_path: Path) -> None:
    outside = tmp_path / "instructor.json"
    outside.write_text('{"key": 1}')
    (sandbox.root / "evaluation.json").symlink_to(outside)
    context = Context(sandbox)
    with pytest.raises(CheckFailed, match="missing \\(or not a plain file\\)"):
        context.json("evaluation.json")


def test_a_view_in_place_of_a_table_is_refused(sandbox: Sandbox) -> None:
    import sqlite3

    db = sandbox.root / "capture.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE VIEW captures AS WITH RECURSIVE n(i) AS "
            "(SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"
        )
    context = Context(sandbox, deadline=time.monotonic() + 5)
    with (
        pytest.raises(CheckFailed, match="has no real table captures"),
        context.sqlite("capture.db", ("captures",)),
    ):
        pass


as_root = pytest.mark.skipif(
    not (bwrap_works() and os.geteuid() == 0), reason="the root grader's fences"
)


@as_root
def test_files_only_root_may_read_stay_unreadable(sandbox: Sandbox) -> None:
    shadow = Path("/etc/shadow")
    assert shadow.exists() and not shadow.stat().st_mode & 0o004
    outcome = sandbox.run(["bash", "-c", "id -u; cat /etc/shadow"], 20)
    assert outcome.stdout.strip() == "65534"
    assert "Permission denied" in outcome.stderr and outcome.code == 1


@needs_bwrap
def test_no_process_inside_shows_the_hidden_paths(tmp_path: Path) -> None:
    course = tmp_path / "course-with-a-secret-name"
    course.mkdir()
    root = tmp_path / "copy"
    root.mkdir()
    sandbox = Sandbox(root, hidden=(course,))
    outcome = sandbox.run(
        ["bash", "-c", "cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ | tr '\\0' ' '"],
        20,
    )
    assert "bash" in outcome.stdout  # it did read the process table
    assert "secret-name" not in outcome.output


@needs_bwrap
def test_tmp_and_shared_memory_are_small_and_its_own(sandbox: Sandbox) -> None:
    outcome = sandbox.run(
        [
            "python",
            "-c",
            "import os; print([os.statvfs(p).f_blocks * "
            "os.statvfs(p).f_frsize for p in ('/tmp', '/dev/shm')])",
        ],
        20,
    )
    limits = sandbox.limits
    assert outcome.stdout.strip() == str([limits.tmp_bytes, limits.shm_bytes])


@pytest.mark.skipif(
    not Sandbox(Path("/")).isolation[-1].endswith("(cgroup)"), reason="no memory cgroup"
)
def test_memory_is_bounded_for_the_whole_sandbox(tmp_path: Path) -> None:
    root = tmp_path / "copy"
    root.mkdir()
    sandbox = Sandbox(root, Limits(memory_bytes=2**30))
    # Three processes of 600 MB each: every one is within the per-process
    # limit, together they are not.
    hog = "import time; b = bytearray(600 * 2**20); time.sleep(3)"
    script = (
        "import subprocess, sys; "
        f"ps = [subprocess.Popen([sys.executable, '-c', {hog!r}]) for _ in range(3)]; "
        "print([p.wait() for p in ps])"
    )
    outcome = sandbox.run(["python", "-c", script], 30)
    codes = outcome.stdout.strip()
    assert codes.startswith("[") and codes != "[0, 0, 0]", outcome.output


@as_root
def test_learner_code_cannot_forge_what_a_session_measures(sandbox: Sandbox) -> None:
    # The learner's process looks for the session's key and pipe everywhere
    # it can, plants the key-less line too, and writes a fake measure where
    # old graders kept theirs.
    forge = r"""
import glob, os, re
keys = set()
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        keys |= set(re.findall(rb"MLOPSLAB_REPORT_KEY=(\w+)", open(path, "rb").read()))
    except OSError:
        pass
lines = [b"@grader-%s real Zm9yZ2Vk\n" % k for k in keys | {b""}]
for path in glob.glob("/proc/[0-9]*/fd/[0-9]*"):
    try:
        with open(path, "wb") as pipe:
            pipe.writelines(lines)
    except OSError:
        pass
os.makedirs("grader", exist_ok=True)
open("grader/real", "w").write("forged")
print("tried", len(keys))
"""
    script = f"learner forge.log python -c {shlex.quote(forge)}\nmeasure real 1\n"
    context = Context(sandbox, deadline=time.monotonic() + 60)

    session = context.session(script)

    assert session.measures == {"real": "1"}, session.outcome.output
    assert (sandbox.root / "forge.log").read_text().startswith("tried 0")


def test_listings_never_follow_a_link_out(sandbox: Sandbox) -> None:
    root = sandbox.root
    (root / "ws").symlink_to("/etc")  # the whole folder a link out
    (root / "ws2" / "runs" / "real").mkdir(parents=True)
    (root / "ws2" / "runs" / "host").symlink_to("/")  # one entry a link out
    context = Context(sandbox)
    assert context.folders("ws/runs") == []
    assert context.folders("ws2/runs") == [root / "ws2" / "runs" / "real"]
    assert context.folders("ws2/../ws2/runs") == []
    with pytest.raises(CheckFailed, match="no run was recorded in ws/runs"):
        context.newest_run("ws")


def test_a_session_script_is_on_no_command_line_learner_code_can_read(
    sandbox: Sandbox,
) -> None:
    # A later, hidden step's inputs must not be readable by an earlier step's code.
    snoop = "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '"
    script = (
        f"learner seen.txt sh -c {shlex.quote(snoop)}\n"
        "later=hidden-input-7f3a\n"
        'measure later "$later"\n'
    )
    context = Context(sandbox, deadline=time.monotonic() + 60)

    session = context.session(script)

    assert session.measures == {"later": "hidden-input-7f3a"}, session.outcome.output
    seen = (sandbox.root / "seen.txt").read_text()
    assert "bash" in seen  # it did read the session shell's command line
    assert "hidden-input-7f3a" not in seen and "measure" not in seen


def test_the_sessions_curl_ignores_a_curlrc_the_learner_wrote(
    sandbox: Sandbox,
) -> None:
    plant = 'printf "write-out = \\"FORGED\\"\\n" > "$HOME/.curlrc"'
    script = (
        f"learner plant.log sh -c {shlex.quote(plant)}\n"
        "curl -s -o /dev/null http://127.0.0.1:9/ | report seen\n"
        'measure planted "$(test -s "$HOME/.curlrc" && echo yes)"\n'
    )
    context = Context(sandbox, deadline=time.monotonic() + 60)

    session = context.session(script)

    assert session.measures.get("planted") == "yes", session.outcome.output
    assert "FORGED" not in session.measures.get("seen", "")


def test_a_server_that_ignores_sigterm_is_stopped_anyway(sandbox: Sandbox) -> None:
    deaf = "trap '' TERM; while :; do sleep 1; done"
    script = (
        f"start deaf.log sh -c {shlex.quote(deaf)}\n"
        "sleep 0.5\n"
        'before=$(date +%s); stop "$started"; after=$(date +%s)\n'
        'measure waited "$((after - before))"\n'
    )
    context = Context(sandbox, deadline=time.monotonic() + 60)

    session = context.session(script, timeout=40)

    assert 9 <= int(session.measure("waited")) <= 15, session.outcome.output
