"""Assignment checks: black-box tests of a learner's copy, scored per check.

An assignment's checks are Python functions in the course, written with the
`check` decorator: public ones in `<module>/assignment/checks.py`, hidden ones
in `<module>/instructor/checks.py` (never in the student bundle). They run in
the grader's (trusted) process and drive the learner's code only through
`Context`: its CLI in the sandbox, on its own copy, then inspect what it left
behind (files, the MLflow store) from outside.

Each check scores its points or nothing, within its own time limit; one that
fails, hangs or crashes never costs another check its points. Steps shared by
several checks (`Context.step`) run once per submission. The time limit holds
for the check's own Python code too: a watchdog (`watchdog.py`) stops a check
still running OVERRUN_GRACE seconds after its deadline. `checks_loader.py`
loads the checks files.
"""

from __future__ import annotations

import base64
import json
import math
import os
import secrets
import shutil
import sqlite3
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from mlopslab.course.sandbox import OUTPUT_LIMIT, Outcome, Sandbox
from mlopslab.course.watchdog import Overrun, Watchdog
from mlopslab.errors import CourseError

T = TypeVar("T")
Visibility = Literal["visible", "hidden", "after_due_date"]
READ_LIMIT = 5 * 2**20  # bytes: the grader reads no bigger learner file
DATABASE_LIMIT = 64 * 2**20  # bytes: nor a bigger SQLite file
# Bytes one check reads of learner files in all: a thousand hard links to one
# large file cost nothing to make and would cost the grader minutes to parse.
READ_BUDGET = 128 * 2**20
# Seconds past a check's deadline before the watchdog stops the check. Its
# sandbox runs end by then (each gets at least 1 s, plus the time to kill it),
# and a check ending over a second late scores 0 anyway: the watchdog only
# stops code that would otherwise never end.
OVERRUN_GRACE = 5.0
SESSION_OUTPUT_LIMIT = 4 * 2**20  # bytes of a session's measures kept
REPORT_KEY = "MLOPSLAB_REPORT_KEY"
# Defined before every session script. `learner LOG CMD...` runs CMD as the
# learner (the sandbox's prefix replaces `LEARNER `: when the grader is root, a
# uid of its own) without the key, its output in LOG; `probe LOG CMD...` the
# same, but its stdout comes back to the script; `start LOG CMD...` in the
# background (its pid in $started), and `stop PID` ends it (as the learner: the
# script's uid may not signal it; KILL after 10 s); `ready URL` waits up to 15 s
# for a server.
# Redirections are made by the learner's own shell: the copy is the learner's,
# not the script's, to write. The script itself reaches bash on stdin
# (SESSION_BOOT), never on its command line, which any process can read in
# /proc: a hidden step's inputs stay unseen until that step hands them over.
SESSION_BOOT = 'script=$(cat) && exec < /dev/null && eval "$script"'
SESSION_PRELUDE = r"""
curl() { command curl -q "$@"; }  # never a .curlrc the learner left in $HOME
to_log='exec "$@" > "$0" 2>&1'
learner() {
  env -u MLOPSLAB_REPORT_KEY LEARNER sh -c "$to_log" "$@" < /dev/null
}
probe() {
  env -u MLOPSLAB_REPORT_KEY LEARNER sh -c 'exec "$@" 2> "$0"' "$@" < /dev/null
}
start() {
  env -u MLOPSLAB_REPORT_KEY LEARNER sh -c "$to_log" "$@" < /dev/null &
  started=$!
}
stop() {  # TERM, then KILL after 10 s: a server that ignores TERM ends too
  learner /dev/null kill -TERM "$1"
  for _ in $(seq 100); do
    grep -qs '^State:[[:space:]]*[^Z]' "/proc/$1/status" || break
    sleep 0.1
  done
  learner /dev/null kill -KILL "$1"
  wait "$1"
}
ready() {
  for _ in $(seq 150); do curl -sf "$1" > /dev/null && return; sleep 0.1; done
}
report() {
  printf '@grader-%s %s %s\n' "$MLOPSLAB_REPORT_KEY" "$1" "$(base64 -w0)"
}
measure() { printf '%s' "$2" | report "$1"; }
"""


class CheckFailed(CourseError):
    """A check's expectation did not hold; the message says what was seen.

    The grader scores it (0 points, this message), so it never ends a command.
    """


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    points: float
    visibility: Visibility
    timeout: float
    success: str
    failure: str
    run: Callable[[Context], None]

    @property
    def public(self) -> bool:
        return self.visibility == "visible"


def check(
    name: str,
    *,
    points: float,
    visibility: Visibility = "visible",
    timeout: float = 60,
    success: str = "passed",
    failure: str = "failed",
) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Declare a check; the course's checks files call this on each function."""

    def declare(function: Callable[[Context], None]) -> Callable[[Context], None]:
        function.__mlopslab_check__ = Check(  # type: ignore[attr-defined]
            function.__name__,
            name,
            points,
            visibility,
            timeout,
            success,
            failure,
            function,
        )
        return function

    return declare


@dataclass(frozen=True)
class CheckResult:
    check: Check
    score: float
    output: str
    seconds: float

    @property
    def passed(self) -> bool:
        return self.score >= self.check.points


@dataclass
class Context:
    """What a check may do: run the learner's code, then look at what it left."""

    sandbox: Sandbox
    # This student's own numbers (assignment.yaml's `variant`), drawn from their
    # id: the checks plant them and compute the expected result from them.
    variant: Mapping[str, Any] = field(default_factory=dict)
    deadline: float = 0.0
    watchdog: Watchdog | None = None  # the running check's, set by run_checks
    _steps: dict[str, Any] = field(default_factory=dict)
    read_bytes: int = 0  # of learner files, by this check (READ_BUDGET)

    @property
    def root(self) -> Path:
        return self.sandbox.root

    def mlopslab(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> Outcome:
        """`mlopslab ARGS` from the learner's copy, within the check's time left."""
        left = max(1.0, min(timeout, self.deadline - time.monotonic()))
        return self._run(["mlopslab", *args], left, env)

    def shell(
        self, script: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> Outcome:
        """A bash script in the sandbox: for servers and their clients together.

        Everything it starts shares the sandbox's own loopback, and is killed
        with it. Leave what the checks need in files; read them with `json`.
        """
        left = max(1.0, min(timeout, self.deadline - time.monotonic()))
        return self._run(["bash", "-c", script], left, env)

    def _run(
        self,
        argv: list[str],
        timeout: float,
        env: dict[str, str] | None,
        measuring: bool = False,
        keep: int = OUTPUT_LIMIT,
        stdin: bytes | None = None,
    ) -> Outcome:
        """A sandbox run, which the watchdog never interrupts (it has its own limit)."""
        shield = self.watchdog.shielded() if self.watchdog else nullcontext()
        with shield:
            return self.sandbox.run(argv, timeout, env, measuring, keep, stdin)

    def session(
        self, script: str, timeout: float = 240, step: str = "session"
    ) -> Session:
        """The grader's bash `script`, run once per submission (as the step `step`).

        The script starts learner code only through `learner LOG CMD...` or
        `probe LOG CMD...` (SESSION_PRELUDE) and hands its findings to the
        grader with `measure NAME VALUE` or `CMD | report NAME`: lines on the
        run's own pipe, marked with a key only the script holds, never files
        in the copy that the learner's code could have planted.
        """

        def run() -> Session:
            key = secrets.token_hex(16)
            prelude = SESSION_PRELUDE.replace("LEARNER ", self.sandbox.learner_prefix())
            left = max(1.0, min(timeout, self.deadline - time.monotonic()))
            outcome = self._run(
                ["bash", "-c", SESSION_BOOT],
                left,
                {REPORT_KEY: key},
                measuring=True,
                keep=SESSION_OUTPUT_LIMIT,
                stdin=(prelude + script).encode(),
            )
            self.expect(not outcome.timed_out, "the session " + outcome.describe())
            return Session(outcome, _measures(outcome.stdout, key))

        return self.step(step, run)

    def config(self, env: dict[str, str] | None = None) -> dict[str, Any]:
        """`mlopslab config show` as a dict; an error or other output fails."""
        shown = self.mlopslab("config", "show", env=env, timeout=15)
        self.expect_exit(shown, 0, "mlopslab config show")
        try:
            value = json.loads(shown.stdout)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise CheckFailed("`mlopslab config show` did not print the config as JSON")
        return value

    def step(self, name: str, action: Callable[[], T]) -> T:
        """`action()` once per submission, shared by the checks that need it."""
        if name not in self._steps:
            try:
                self._steps[name] = ("ok", action())
            except Exception as exc:  # noqa: BLE001 - replayed to every check
                self._steps[name] = ("error", exc)
            except Overrun:  # stopped by the watchdog: later checks don't retry it
                unfinished = CheckFailed(f"the step {name!r} ran out of time")
                self._steps[name] = ("error", unfinished)
                raise
        status, value = self._steps[name]
        if status == "error":
            raise value
        return cast(T, value)

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise CheckFailed(message)

    def require(self, value: T | None, message: str) -> T:
        """`value` when it is not None (typed so), else the check fails: `message`.

        `version = ctx.require(ctx.versions(home).get("1"), "no version 1")`
        """
        if value is None:
            raise CheckFailed(message)
        return value

    def expect_exit(self, outcome: Outcome, code: int, what: str) -> None:
        if outcome.code != code:
            tail = outcome.output.strip().splitlines()[-3:]
            raise CheckFailed(
                f"`{what}` {outcome.describe()}, expected exit {code}"
                + (f"; it printed: {' | '.join(tail)}" if tail else "")
            )

    def file(self, relative: str, limit: int = READ_LIMIT) -> Path:
        """A regular file inside the copy: never a link out of it, never too big."""
        path = self.root / relative
        if path.is_symlink() or not path.is_file():
            raise CheckFailed(f"{relative} is missing (or not a plain file)")
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise CheckFailed(f"{relative} points outside the submission")
        size = resolved.stat().st_size
        if size > limit:
            raise CheckFailed(f"{relative} is larger than {limit} bytes")
        self.read_bytes += size
        if self.read_bytes > READ_BUDGET:
            raise CheckFailed(
                f"the files this check read reach {READ_BUDGET} bytes at {relative}"
            )
        return resolved

    def json(self, relative: str) -> Any:
        try:
            return json.loads(self.file(relative).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise CheckFailed(f"{relative} is not valid JSON: {exc}") from exc

    def folders(self, relative: str) -> list[Path]:
        """The real folders in `relative`, itself a real folder of the copy.

        No link is followed, on the way there or in the listing: a learner's
        link to `/etc` never shows the grader, or the feedback, what is there.
        """
        here = self.root
        for part in Path(relative).parts:
            here = here / part
            if part == ".." or here.is_symlink() or not here.is_dir():
                return []
        with os.scandir(here) as entries:
            found = [here / e.name for e in entries if e.is_dir(follow_symlinks=False)]
        return sorted(found)

    def newest_run(self, home: str) -> str:
        """The workspace-relative folder of the newest run in `home`."""
        folders = self.folders(f"{home}/runs")
        if not folders:
            raise CheckFailed(f"no run was recorded in {home}/runs")
        newest = max(folders, key=lambda p: p.lstat().st_mtime)
        return str(newest.relative_to(self.root))

    def versions(self, home: str, model: str = "penguins") -> dict[str, dict[str, Any]]:
        """The registered versions (status tag, aliases), read from the store."""
        tables = ("model_versions", "model_version_tags", "registered_model_aliases")
        with self.sqlite(f"{home}/mlflow.db", tables) as conn:
            rows = conn.execute(
                "SELECT version FROM model_versions WHERE name = ?", (model,)
            ).fetchall()
            tags = conn.execute(
                "SELECT version, key, value FROM model_version_tags WHERE name = ?",
                (model,),
            ).fetchall()
            aliases = conn.execute(
                "SELECT version, alias FROM registered_model_aliases WHERE name = ?",
                (model,),
            ).fetchall()
        found: dict[str, dict[str, Any]] = {
            str(v): {"tags": {}, "aliases": set()} for (v,) in rows
        }
        for version, key, value in tags:
            found.setdefault(str(version), {"tags": {}, "aliases": set()})
            found[str(version)]["tags"][key] = value
        for version, alias in aliases:
            if str(version) in found:
                found[str(version)]["aliases"].add(alias)
        return found

    @contextmanager
    def sqlite(
        self, relative: str, tables: tuple[str, ...]
    ) -> Iterator[sqlite3.Connection]:
        """A private copy of a learner's SQLite file, its `tables` proven real.

        The learner wrote this file: a "table" could be a view over an endless
        query, or its journal could change under us. So the grader reads a copy,
        refuses views in place of tables, and stops any query at the deadline.
        """
        source = self.file(relative, limit=DATABASE_LIMIT)
        with tempfile.TemporaryDirectory(prefix="mlopslab-grader-db-") as scratch:
            copy = Path(scratch) / "copy.db"
            shutil.copyfile(source, copy)
            conn = sqlite3.connect(copy)
            try:
                conn.set_progress_handler(
                    lambda: int(time.monotonic() > self.deadline), 10_000
                )
                kinds = dict(conn.execute("SELECT name, type FROM sqlite_master"))
                fake = [t for t in tables if kinds.get(t) != "table"]
                if fake:
                    raise CheckFailed(f"{relative} has no real table {fake[0]}")
                yield conn
            except sqlite3.Error as exc:
                raise CheckFailed(f"cannot read {relative}: {exc}") from exc
            finally:
                conn.close()


@dataclass(frozen=True)
class Session:
    """A session's run, and what its script measured (`measure`, `report`)."""

    outcome: Outcome
    measures: dict[str, str]

    def measure(self, name: str) -> str:
        if name not in self.measures:
            raise CheckFailed(f"the session measured no {name}")
        return self.measures[name]


def _measures(stdout: str, key: str) -> dict[str, str]:
    """The `measure`/`report` lines marked with this session's key."""
    found = {}
    mark = f"@grader-{key} "
    for line in stdout.splitlines():
        if line.startswith(mark):
            name, _, encoded = line[len(mark) :].partition(" ")
            try:
                found[name] = base64.b64decode(encoded).decode("utf-8", "replace")
            except ValueError:
                continue
    return found


def run_checks(
    sandbox: Sandbox,
    checks: list[Check],
    budget: float | None = None,
    variant: Mapping[str, Any] | None = None,
) -> list[CheckResult]:
    """Every check, in order, each scored on its own, all within `budget` seconds."""
    context = Context(sandbox, dict(variant or {}))
    end = time.monotonic() + budget if budget is not None else math.inf
    results = []
    for item in checks:
        if time.monotonic() >= end:
            spent = f"not run: the submission used its whole {budget:g} s"
            results.append(CheckResult(item, 0.0, spent, 0.0))
        else:
            results.append(_run_one(context, item, end))
    return results


def _run_one(context: Context, item: Check, end: float = math.inf) -> CheckResult:
    started = time.monotonic()
    context.deadline = min(started + item.timeout, end)
    context.read_bytes = 0
    context.watchdog = Watchdog(context.deadline - started + OVERRUN_GRACE)
    try:
        with context.watchdog:
            item.run(context)
        score, output = item.points, item.success
    except CheckFailed as failed:
        score, output = 0.0, f"{item.failure}: {failed}"
    except Overrun:
        score = 0.0
        output = (
            f"{item.failure}: the check was still running "
            f"{OVERRUN_GRACE:g} s after its {item.timeout:g} s limit (stopped)"
        )
    except Exception as exc:  # noqa: BLE001 - a broken check scores 0, others go on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        output = (
            f"{item.failure}: the grader could not finish this check "
            f"({exc!r} at line {where.lineno})"
        )
        score = 0.0
    seconds = time.monotonic() - started
    if time.monotonic() > context.deadline + 1 and score:
        score, output = 0.0, f"{item.failure}: took {seconds:.0f} s, over its limit"
    return CheckResult(item, score, output, seconds)
