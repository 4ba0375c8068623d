"""A deadline for the grader's own Python code inside a check.

A check drives learner code only through the sandbox, whose runs stop at the
check's deadline. What the sandbox cannot stop is the check's own work in the
grader's process: a loop over what the learner left, a helper that never
returns. `Watchdog` bounds that: if the check is still running when it fires,
it raises `Overrun` in the check's thread, and the check scores 0.

Checks run in the grading pool's threads (and in the main thread for `course
check`), where SIGALRM cannot reach, so the watchdog is a timer thread that
raises asynchronously (CPython's `PyThreadState_SetAsyncExc`); the check's
thread meets the exception at its next bytecode. It follows that:

- only Python code is interrupted: a single long call into C (one regular
  expression, one blocking read) finishes first;
- a sandbox run is never interrupted (`shielded`): it has its own timeout, and
  an exception in the middle of it could leave learner processes behind; an
  overrun that falls due during one is raised as soon as it returns;
- the watchdog fires once, and `Overrun` derives from BaseException (as
  KeyboardInterrupt does) so that a check's `except Exception` cannot swallow
  it. It never leaves the grader: `grading.run_checks` turns it into a score.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Literal

State = Literal["armed", "due", "fired", "stopped"]


class Overrun(BaseException):
    """The check's own code ran past its time (raised by the watchdog)."""


class Watchdog:
    """Raises `Overrun` in the creating thread `seconds` after `with` starts."""

    def __init__(self, seconds: float) -> None:
        self._thread_id = threading.get_ident()
        self._lock = threading.Lock()
        self._state: State = "armed"
        self._shields = 0
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._lock:
            fired = self._state == "fired"
            self._state = "stopped"
        self._timer.cancel()
        if fired:  # raised already, or about to be: drop it if still pending
            _raise_in(self._thread_id, None)

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """No `Overrun` inside this block; one that fell due is raised after it."""
        with self._lock:
            fired = self._state == "fired"
            if not fired:
                self._shields += 1
        if fired:  # fired just before: never start the shielded work
            _raise_in(self._thread_id, None)
            raise Overrun
        try:
            yield
        finally:
            with self._lock:
                self._shields -= 1
                due = self._state == "due" and not self._shields
                if due:
                    self._state = "fired"
            if due:
                raise Overrun  # it outranks how the block itself ended

    def _fire(self) -> None:
        with self._lock:
            if self._state != "armed":
                return
            if self._shields:
                self._state = "due"
                return
            self._state = "fired"
            _raise_in(self._thread_id, Overrun)


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise `exception` in another thread at its next bytecode (None: cancel)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id),
        ctypes.py_object(exception) if exception is not None else None,
    )
