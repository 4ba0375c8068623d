"""Where a learner's code runs when it is graded: a child process, fenced in.

Learner code is untrusted. It runs on a private copy of the submission, never in
the grader's process, under these fences, each used where the machine has it:

- bubblewrap (Debian's `bubblewrap`): new user, PID, IPC, UTS and network
  namespaces (no network at all, not even the grader's loopback), an
  unprivileged uid (65534), and a file system that holds only the system's
  programs, Python, the project's packages and the submission's own copy. The
  course (hidden checks, keys, solutions) and the results folder do not exist
  inside. Without bubblewrap, `unshare --net --map-root-user` still takes the
  network away, and the results say that files were not fenced.
- rlimits (util-linux `prlimit`): CPU seconds, address space, file size and
  open files.
- a process limit: a `pids` cgroup where this user can make one (root), else
  RLIMIT_NPROC (which the kernel does not apply to root).
- a wall-clock timeout that kills the whole process tree.

`Sandbox.isolation` lists what applied, so results never claim a fence that
was not there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

NOBODY = 65534
TMP_BYTES = 256 * 2**20  # the sandbox's /tmp lives in memory
OUTPUT_LIMIT = 64_000  # characters of stdout/stderr kept per run
_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 300
    memory_bytes: int = 6 * 2**30
    processes: int = 256
    file_bytes: int = 512 * 2**20
    open_files: int = 1024


@dataclass(frozen=True)
class Outcome:
    """How one sandboxed command ended."""

    code: int | None  # None: it was killed
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    signal: str | None = None

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}".strip()

    def describe(self) -> str:
        if self.timed_out:
            return f"did not finish within {self.seconds:.0f} s (stopped)"
        if self.signal:
            return f"was killed by {self.signal}"
        return f"exited {self.code}"


@dataclass
class Sandbox:
    """Runs commands on `root` (a private copy of a submission)."""

    root: Path
    limits: Limits = field(default_factory=Limits)
    python_bin: Path = field(default_factory=lambda: Path(sys.executable).parent)
    hidden: tuple[Path, ...] = ()  # never visible inside, e.g. the course

    @property
    def own_process_limit(self) -> bool:
        """True when the process limit is this sandbox's alone (a cgroup)."""
        return _cgroup_parent() is not None

    @property
    def isolation(self) -> list[str]:
        fences = ["rlimits (cpu, memory, file size, open files)", "wall-clock timeout"]
        if bwrap_works():
            fences.insert(0, "bubblewrap: no network, uid 65534, only its own files")
        elif unshare_works():
            fences.insert(0, "no network (unshare); files NOT fenced: no bubblewrap")
        else:
            fences.insert(0, "NO network or file fence on this machine")
        if _cgroup_parent() is not None:
            fences.append(f"at most {self.limits.processes} processes (cgroup)")
        elif os.geteuid() != 0:
            fences.append(f"at most {self.limits.processes} processes (rlimit)")
        else:
            fences.append("NO process limit (root without a pids cgroup)")
        return fences

    def run(
        self, argv: list[str], timeout: float, env: dict[str, str] | None = None
    ) -> Outcome:
        """Run `argv` (a project command name first) in `root` with `env` added."""
        started = time.perf_counter()
        with _scratch() as scratch, _process_group_cgroup(self.limits) as cgroup:
            out_path, err_path = scratch / "stdout", scratch / "stderr"
            with out_path.open("wb") as out, err_path.open("wb") as err:
                process = subprocess.Popen(
                    _fenced(self._command(argv), self.limits, cgroup),
                    cwd=self.root,
                    env=self._environment(env or {}),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
                timed_out = _wait(process, timeout, cgroup)
            code = process.returncode
            return Outcome(
                code=None if timed_out or code < 0 else code,
                stdout=_tail(out_path),
                stderr=_tail(err_path),
                seconds=time.perf_counter() - started,
                timed_out=timed_out,
                signal=signal.Signals(-code).name
                if code < 0 and not timed_out
                else None,
            )

    def _command(self, argv: list[str]) -> list[str]:
        """The program (a project command, or bash) inside its fences."""
        tool = self.python_bin / argv[0]
        program = [str(tool) if tool.exists() else argv[0], *argv[1:]]
        if bwrap_works():
            return [*self._bwrap(), "--", *program]
        if unshare_works():
            return ["unshare", "--net", "--map-root-user", "--", *program]
        return program

    def _bwrap(self) -> list[str]:
        venv = self.python_bin.parent
        args = [
            "bwrap",
            "--die-with-parent",
            "--new-session",
            "--unshare-all",
            "--uid",
            str(NOBODY),
            "--gid",
            str(NOBODY),
            "--hostname",
            "sandbox",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--size",
            str(TMP_BYTES),
            "--tmpfs",
            "/tmp",
        ]
        for system in ("/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc"):
            args += ["--ro-bind-try", system, system]
        for prefix in {sys.base_prefix, str(venv)}:
            args += ["--ro-bind", prefix, prefix]
        # The grader's own mlopslab (with the course it ships) and the course
        # being graded are not the learner's to see, wherever they are installed.
        import mlopslab

        installed = Path(sysconfig.get_paths()["purelib"]) / "mlopslab"
        for secret in (Path(mlopslab.__file__).parent, installed, *self.hidden):
            if secret.is_dir():
                args += ["--tmpfs", str(secret.resolve())]
        args += ["--bind", str(self.root), str(self.root), "--chdir", str(self.root)]
        return args

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        home = self.root / ".home"
        home.mkdir(exist_ok=True)
        return {
            "PATH": f"{self.python_bin}:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(self.root / "src"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "NO_COLOR": "1",
            "COLUMNS": "200",
            **extra,
        }


@cache
def bwrap_works() -> bool:
    return _works(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"])


@cache
def unshare_works() -> bool:
    return _works(["unshare", "--net", "--map-root-user", "true"])


def _works(command: list[str]) -> bool:
    if shutil.which(command[0]) is None:
        return False
    try:
        return subprocess.run(command, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _fenced(command: list[str], limits: Limits, cgroup: Path | None) -> list[str]:
    """The command behind its rlimits (util-linux `prlimit`), in its cgroup.

    A shell joins the cgroup and then execs, so nothing the command starts is
    outside it. (No `preexec_fn`: Python code between fork and exec can
    deadlock when the grader runs submissions on several threads.)
    """
    limited = [
        "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_bytes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
    ]
    if cgroup is None and os.geteuid() != 0:
        limited.append(f"--nproc={limits.processes}")
    limited += ["--", *command]
    if cgroup is None:
        return limited
    join = 'echo $$ > "$0" && exec "$@"'
    return ["sh", "-c", join, str(cgroup / "cgroup.procs"), *limited]


def _wait(
    process: subprocess.Popen[bytes], timeout: float, cgroup: Path | None
) -> bool:
    """Wait; on timeout kill the whole tree. True when it timed out."""
    try:
        process.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    # Leftovers (daemons, a fork bomb's children) go too, finished or not.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if cgroup is not None:
        _kill_cgroup(cgroup)
    process.wait()
    return timed_out


@cache
def _cgroup_parent() -> Path | None:
    """A pids cgroup folder this process may create children in, or None."""
    for root in _CGROUP_ROOTS:
        if (root / "pids.max").exists() or (root / "cgroup.procs").exists():
            probe = root / f"mlopslab-probe-{os.getpid()}"
            try:
                probe.mkdir()
            except OSError:
                continue
            usable = (probe / "pids.max").exists()
            probe.rmdir()
            if usable:
                _sweep(root)
                return root
    return None


def _sweep(root: Path) -> None:
    """Remove groups a killed grader left behind; a group still in use stays."""
    for stale in root.glob("mlopslab-sandbox-*"):
        with contextlib.suppress(OSError):
            stale.rmdir()  # only succeeds when no process is left in it


@contextlib.contextmanager
def _process_group_cgroup(limits: Limits) -> Iterator[Path | None]:
    parent = _cgroup_parent()
    if parent is None:
        yield None
        return
    group = parent / f"mlopslab-sandbox-{uuid.uuid4().hex[:12]}"
    group.mkdir()
    try:
        (group / "pids.max").write_text(str(limits.processes))
        yield group
    finally:
        _kill_cgroup(group)
        with contextlib.suppress(OSError):
            group.rmdir()


def _kill_cgroup(group: Path) -> None:
    for _ in range(50):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="mlopslab-sandbox-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tail(path: Path) -> str:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - OUTPUT_LIMIT))
        text = handle.read().decode("utf-8", errors="replace")
    return text if size <= OUTPUT_LIMIT else f"[...]{text}"
