"""The check API itself, without a real sandbox: require, discovery, time bounds."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from textwrap import dedent

import pytest

from mlopslab.course import grading
from mlopslab.course.autograder import Ungradable
from mlopslab.course.checks_loader import load_checks
from mlopslab.course.grading import (
    Check,
    CheckFailed,
    CheckResult,
    Context,
    check,
    run_checks,
)
from mlopslab.course.sandbox import Outcome, Sandbox
from mlopslab.errors import CourseError, MlopsLabError

CheckFunction = Callable[[Context], None]


class FakeSandbox(Sandbox):
    """Runs nothing: each run takes `seconds` and then notes that it ended."""

    seconds: float = 0.0
    ended: list[str]

    def run(
        self,
        argv: list[str],
        timeout: float,
        env: dict[str, str] | None = None,
        measuring: bool = False,
        keep: int = 0,
        stdin: bytes | None = None,
    ) -> Outcome:
        time.sleep(self.seconds)  # a C call: where an asynchronous raise would land
        self.ended.append(argv[-1])
        return Outcome(0, "", "", self.seconds)


@pytest.fixture
def sandbox(tmp_path: Path) -> FakeSandbox:
    fake = FakeSandbox(tmp_path)
    fake.ended = []
    return fake


@pytest.fixture
def quick_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grading, "OVERRUN_GRACE", 0.2)


def declared(function: CheckFunction, timeout: float = 0.1) -> Check:
    check(function.__name__, points=2, timeout=timeout, failure="no")(function)
    # @check sets this attribute at run time, out of mypy's sight.
    found = function.__mlopslab_check__  # type: ignore[attr-defined]
    assert isinstance(found, Check)
    return found


def test_grading_errors_root_at_the_one_hierarchy() -> None:
    assert issubclass(CheckFailed, CourseError)
    assert issubclass(Ungradable, MlopsLabError)
    assert str(CheckFailed("v1 is not rejected")) == "v1 is not rejected"


def test_require_returns_the_value_or_fails_the_check(sandbox: FakeSandbox) -> None:
    ctx = Context(sandbox)
    versions: dict[str, dict[str, str]] = {"1": {"status": "approved"}}
    found = ctx.require(versions.get("1"), "no version 1")
    assert found["status"] == "approved"  # typed as a dict: no None check needed
    assert ctx.require(0, "zero is a value") == 0
    assert ctx.require([], "so is an empty list") == []
    with pytest.raises(CheckFailed, match=r"^no version 2$"):
        ctx.require(versions.get("2"), "no version 2")


PUBLIC = """
from mlopslab.course.grading import Context, check

SEEN = []


def step(ctx: Context) -> None:
    SEEN.append("public")


@check("public one", points=1)
def public_one(ctx: Context) -> None:
    step(ctx)


also_public_one = public_one  # the same check under a second name
"""
HIDDEN = """
from mlopslab.course.grading import Context, check

from ..assignment.checks import SEEN, public_one, step


@check("hidden one", points=2, visibility="hidden")
def hidden_one(ctx: Context) -> None:
    step(ctx)
    SEEN.append("hidden")
"""


def write_module(root: Path, public: str, hidden: str | None) -> Path:
    folder = root / "1-drift"
    (folder / "assignment").mkdir(parents=True)
    (folder / "assignment" / "checks.py").write_text(dedent(public))
    if hidden is not None:
        (folder / "instructor").mkdir()
        (folder / "instructor" / "checks.py").write_text(dedent(hidden))
    return folder


def test_each_check_is_found_once_in_the_file_that_defines_it(
    tmp_path: Path, sandbox: FakeSandbox
) -> None:
    folder = write_module(tmp_path, PUBLIC, HIDDEN)

    checks = load_checks(folder, hidden=True)

    assert [(c.id, c.visibility) for c in checks] == [
        ("public_one", "visible"),
        ("hidden_one", "hidden"),
    ]
    assert [c.id for c in load_checks(folder, hidden=False)] == ["public_one"]
    # The hidden file imported the very module the grader loaded.
    run_checks(sandbox, checks)
    public_globals = checks[0].run.__globals__
    assert public_globals["SEEN"] == ["public", "public", "hidden"]
    assert checks[1].run.__globals__["step"] is public_globals["step"]


def test_every_load_has_its_own_module_names(tmp_path: Path) -> None:
    folder = write_module(tmp_path, PUBLIC, HIDDEN)

    first, second = load_checks(folder, True), load_checks(folder, True)

    names = {c.run.__module__ for c in first} | {c.run.__module__ for c in second}
    assert len(names) == 4
    assert all(sys.modules[name].__file__ for name in names)
    assert "assignment_checks" not in sys.modules


def test_a_hidden_file_without_a_public_one_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_module(tmp_path, PUBLIC, HIDDEN)
    (folder / "assignment" / "checks.py").unlink()
    with pytest.raises(CourseError, match=r"instructor/checks\.py does not load"):
        load_checks(folder, hidden=True)


def endless(ctx: Context) -> None:
    while True:
        pass


def swallowing(ctx: Context) -> None:
    while True:
        with contextlib.suppress(Exception):  # what the watchdog must get through
            time.sleep(0.01)


def passing(ctx: Context) -> None:
    ctx.expect(True, "never shown")


def graded(sandbox: Sandbox, *functions: CheckFunction) -> list[CheckResult]:
    return run_checks(sandbox, [declared(f) for f in functions])


@pytest.mark.usefixtures("quick_watchdog")
@pytest.mark.parametrize("runaway", [endless, swallowing])
def test_a_check_that_never_ends_is_stopped_and_the_next_one_runs(
    sandbox: FakeSandbox, runaway: CheckFunction
) -> None:
    started = time.monotonic()

    results = graded(sandbox, runaway, passing)

    assert time.monotonic() - started < 5
    assert results[0].score == 0
    assert results[0].output == (
        "no: the check was still running 0.2 s after its 0.1 s limit (stopped)"
    )
    assert results[1].score == 2


@pytest.mark.usefixtures("quick_watchdog")
def test_the_bound_holds_in_a_grading_pool_thread(sandbox: FakeSandbox) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        results = pool.submit(graded, sandbox, endless, passing).result(timeout=10)
    assert [r.score for r in results] == [0, 2]
    assert "(stopped)" in results[0].output


@pytest.mark.usefixtures("quick_watchdog")
def test_a_sandbox_run_is_never_cut_short(sandbox: FakeSandbox) -> None:
    sandbox.seconds = 0.6  # still running when the watchdog fires, at 0.3 s

    def runs_then_loops(ctx: Context) -> None:
        ctx.shell("first")
        endless(ctx)

    results = graded(sandbox, runs_then_loops, passing)

    assert sandbox.ended == ["first"]  # the run finished, then the check stopped
    assert results[0].score == 0 and "(stopped)" in results[0].output
    assert results[1].score == 2


@pytest.mark.usefixtures("quick_watchdog")
def test_a_step_that_never_ends_is_not_tried_again(sandbox: FakeSandbox) -> None:
    calls = []

    def forever() -> None:
        calls.append(1)
        endless(Context(sandbox))

    def first(ctx: Context) -> None:
        ctx.step("setup", forever)

    def second(ctx: Context) -> None:
        ctx.step("setup", forever)

    results = graded(sandbox, first, second)

    assert calls == [1]
    assert "(stopped)" in results[0].output
    assert results[1].output == "no: the step 'setup' ran out of time"


def test_hard_links_to_one_big_file_cost_one_budget(sandbox: FakeSandbox) -> None:
    # One 4 MB card, linked into 40 run folders: free to make, 160 MB to parse.
    card = sandbox.root / "card.json"
    card.write_text('{"pad": "' + "x" * (4 * 2**20 - 20) + '"}')
    for number in range(40):
        folder = sandbox.root / "ws" / "runs" / f"r{number:02d}"
        folder.mkdir(parents=True)
        (folder / "model_card.json").hardlink_to(card)

    def reads_every_card(ctx: Context) -> None:
        for folder in ctx.folders("ws/runs"):
            ctx.json(f"ws/runs/{folder.name}/model_card.json")

    result = run_checks(sandbox, [declared(reads_every_card, timeout=60)])[0]

    assert result.score == 0 and result.seconds < 10
    assert f"reach {grading.READ_BUDGET} bytes" in result.output
