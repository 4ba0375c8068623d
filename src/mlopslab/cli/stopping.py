"""Ctrl-C and SIGTERM stop a long command, and all it started, within seconds.

Python runs signal handlers only between bytecodes, so a fit inside C code
(boosting, BLAS) would hold Ctrl-C for as long as the fit runs, and SIGTERM
would kill this process and orphan its worker processes. Inside `stoppable()`,
SIGTERM raises KeyboardInterrupt as Ctrl-C does, so the command unwinds the
same way (a stage says what it kept; `register` undoes its writes; joblib
stops its worker processes). A watcher thread, woken at once through the
signal wakeup file descriptor (which CPython writes to from its C-level
handler), gives the main thread `grace` seconds to do so; if it is still
stuck in C code by then, the watcher terminates this process's child
processes and ends the process.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from mlopslab.errors import Interrupted

STOPPING = {signal.SIGINT, signal.SIGTERM}
# What a stopped `run` (or retrain) leaves behind.
STOPPED_RUN = (
    "nothing is registered before the register stage, which undoes itself when "
    "stopped; run again"
)
STUCK_EXIT_CODE = 130


@contextmanager
def stoppable(hint: str = "", grace: float = 5.0) -> Iterator[None]:
    """Make Ctrl-C and SIGTERM stop the command promptly (see the module doc).

    A KeyboardInterrupt that leaves the block becomes `Interrupted` with
    `hint` (what the stop left behind), so the command ends in one line.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    finished = threading.Event()
    previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    watcher = threading.Thread(target=_watch, args=(read, finished, grace), daemon=True)
    watcher.start()
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("interrupted", hint) from None
    finally:
        finished.set()
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGTERM, previous_term)
        with suppress(OSError):  # gone already if it woke for a signal
            os.write(write, b"\0")  # wake the watcher so that it returns
        watcher.join(timeout=1)
        os.close(write)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _watch(read: int, finished: threading.Event, grace: float) -> None:
    try:
        while not finished.is_set():
            got = os.read(read, 16)
            if not got or finished.is_set():
                return
            if any(byte in STOPPING for byte in got):
                break
        else:
            return
        if finished.wait(grace):
            return
        terminate_children()
        with suppress(OSError, ValueError):  # a closed stderr must not keep us alive
            sys.stderr.write("interrupted\n")
            sys.stderr.flush()
        os._exit(STUCK_EXIT_CODE)
    finally:
        os.close(read)


def terminate_children() -> None:
    """SIGTERM to every process this one started, and to theirs."""
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    kids = [int(c) for c in children.read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found
