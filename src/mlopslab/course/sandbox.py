"""Where a learner's code runs when it is graded: a child process, fenced in.

Learner code is untrusted. It runs on a private copy of the submission, never in
the grader's process, under these fences, each used where the machine has it:

- bubblewrap (Debian's `bubblewrap`): new PID, IPC, UTS and network namespaces
  (no network at all, not even the grader's loopback) and a file system that
  holds only the system's programs, Python, the project's packages and the
  submission's own copy, with a small `/tmp` and `/dev/shm` of its own. The
  course (hidden checks, keys, solutions) and the results folder do not exist
  inside. bubblewrap's own arguments come from a file descriptor, so no
  process inside can read the hidden paths from `/proc/1/cmdline`.
- a real unprivileged uid: when the grader is root, learner code runs as host
  uid 65534 with no capabilities (`setpriv`), so files only root may read stay
  unreadable. (A user namespace would map its 65534 to the grader's own uid,
  which for root is root.) Without root, bubblewrap's user namespace maps
  65534 to the grader's uid: the sandbox reads what the grader's user may.
- rlimits (util-linux `prlimit`): CPU seconds, address space, file size and
  open files.
- cgroups where the grader may make them (root): at most `processes`
  processes, and `memory_bytes` of memory with swap counted, for the whole
  sandbox rather than each process. Without, RLIMIT_NPROC bounds processes
  (the kernel does not apply it to root) and memory is bounded per process.
- a wall-clock timeout that kills the whole process tree.

A run's output comes back through pipes the grader holds, kept to a bounded
tail. When the grader is root, a shell run (`Sandbox.run(..., measuring=True)`)
runs as a second uid (65533), which learner processes cannot signal, trace or
read: commands it starts through its `learner` function run as 65534, so what
the shell itself prints (exit codes, HTTP statuses) is the grader's measure.

`Sandbox.isolation` lists what applied, so results never claim a fence that
was not there.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Literal

LEARNER_UID = 65534  # "nobody": learner code
GRADER_UID = 65533  # a measuring shell's own commands (root grader only)
OUTPUT_LIMIT = 64_000  # bytes of stdout/stderr kept per run
# Bytes a run may take on stdin (a session script): within a pipe's buffer, so
# writing it never waits for the process to read.
STDIN_LIMIT = 60_000
GROUP_PREFIX = "mlopslab-sandbox-"  # then the grader's pid: a dead one's are swept
SYSTEM = ("/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc")
MOUNTED = ("/", "/tmp", "/dev", "/dev/shm", "/proc")  # the sandbox's own
_CGROUP_ROOTS = (Path("/sys/fs/cgroup"),)
Mode = Literal["root", "user", "unshare", "none"]


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 300
    memory_bytes: int = 6 * 2**30  # the whole sandbox (cgroup), else each process
    processes: int = 256
    file_bytes: int = 512 * 2**20
    open_files: int = 1024
    tmp_bytes: int = 256 * 2**20  # the sandbox's own /tmp, in memory
    shm_bytes: int = 64 * 2**20  # and its /dev/shm


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
    _owned: bool = field(default=False, init=False, repr=False)

    @property
    def own_process_limit(self) -> bool:
        """True when the process limit is this sandbox's alone (a cgroup)."""
        return "pids" in _controllers()

    @property
    def isolation(self) -> list[str]:
        return [
            _file_fence(),
            "rlimits (cpu, file size, open files)",
            "wall-clock timeout",
            _process_fence(self.limits),
            _measure_fence(),
            _memory_fence(self.limits),
        ]

    def run(
        self,
        argv: list[str],
        timeout: float,
        env: dict[str, str] | None = None,
        measuring: bool = False,
        keep: int = OUTPUT_LIMIT,
        stdin: bytes | None = None,
    ) -> Outcome:
        """Run `argv` (a project command name first) in `root` with `env` added.

        `measuring`: `argv` is the grader's own shell (see the module's notes).
        `stdin`: bytes on its standard input (at most STDIN_LIMIT), else none.
        """
        if stdin is not None and len(stdin) > STDIN_LIMIT:
            raise ValueError(f"stdin is larger than {STDIN_LIMIT} bytes")
        self._take_ownership()
        started = time.perf_counter()
        with _cgroups(self.limits) as groups, _arguments(self._bwrap()) as args_fd:
            process = subprocess.Popen(
                _fenced(self._command(argv, args_fd, measuring), self.limits, groups),
                cwd=self.root,
                env=self._environment(env or {}),
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=() if args_fd is None else (args_fd,),
            )
            _feed(process, stdin)
            assert process.stdout is not None and process.stderr is not None
            with _Tail(process.stdout, keep) as out, _Tail(process.stderr, keep) as err:
                timed_out = _wait(process, timeout, groups)
        code = process.returncode
        return Outcome(
            code=None if timed_out or code < 0 else code,
            stdout=out.text(),
            stderr=err.text(),
            seconds=time.perf_counter() - started,
            timed_out=timed_out,
            signal=signal.Signals(-code).name if code < 0 and not timed_out else None,
        )

    def learner_prefix(self) -> str:
        """Shell words that run a command as the learner, inside a measuring run."""
        if _mode() != "root":
            return ""
        return shlex.join(_setpriv(LEARNER_UID)) + " "

    def _take_ownership(self) -> None:
        """Give the copy to the learner's uid (root grader), without following links."""
        if self._owned or _mode() != "root":
            return
        owner = f"{LEARNER_UID}:{LEARNER_UID}"
        subprocess.run(["chown", "-R", "-h", owner, str(self.root)], check=True)
        self._owned = True

    def _command(
        self, argv: list[str], args_fd: int | None, measuring: bool
    ) -> list[str]:
        """The program (a project command, or bash) inside its fences."""
        tool = self.python_bin / argv[0]
        program = [str(tool) if tool.exists() else argv[0], *argv[1:]]
        mode = _mode()
        if mode == "root":  # a real uid: the measuring shell's, or the learner's
            who = (
                _setpriv(GRADER_UID, keep_setuid=True)
                if measuring
                else _setpriv(LEARNER_UID)
            )
            return ["bwrap", "--args", str(args_fd), "--", *who, *program]
        if mode == "user":
            return ["bwrap", "--args", str(args_fd), "--", *program]
        if mode == "unshare":
            return ["unshare", "--net", "--map-root-user", "--", *program]
        return program

    def _bwrap(self) -> list[str] | None:
        """bubblewrap's options (read from a descriptor), or None without it."""
        mode = _mode()
        if mode not in ("root", "user"):
            return None
        args = ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
        if mode == "root":  # no user namespace: setpriv drops to a real uid
            args += ["--unshare-pid", "--unshare-net", "--unshare-ipc"]
            args += ["--unshare-uts", "--unshare-cgroup-try"]
        else:
            args += ["--unshare-all", "--uid", str(LEARNER_UID)]
            args += ["--gid", str(LEARNER_UID)]
        args += ["--dev", "/dev", "--proc", "/proc"]
        args += _tmpfs("/tmp", self.limits.tmp_bytes)
        args += _tmpfs("/dev/shm", self.limits.shm_bytes)
        for system in SYSTEM:
            args += ["--ro-bind-try", system, system]
        binds = sorted({sys.base_prefix, str(self.python_bin.parent)})
        for prefix in binds:
            args += ["--ro-bind", prefix, prefix]
        for secret in _secrets(self.hidden):
            args += ["--tmpfs", secret]
        root = str(self.root)
        args += ["--bind", root, root]
        for folder in _ancestors([*binds, root]):
            args += ["--chmod", "0711", folder]  # made by bwrap: traversable only
        return [*args, "--chdir", root]

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        home = self.root / ".home"
        if not home.is_dir():
            home.mkdir()
            if _mode() == "root":
                os.chown(home, LEARNER_UID, LEARNER_UID)
        return {
            "PATH": f"{self.python_bin}:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(self.root / "src"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "NO_COLOR": "1",
            "COLUMNS": "200",
            # One thread each: sandboxes run side by side (`--jobs`), and
            # OpenMP's spinning threads, more of them than cores, stall each
            # other for minutes (a 1 s fit took over 60).
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            **extra,
        }


@cache
def _mode() -> Mode:
    """How this machine fences: bwrap as root, bwrap as a user, unshare, nothing."""
    probe = ["--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--", "true"]
    if os.geteuid() == 0 and _works(["bwrap", *probe]):
        return "root"
    if _works(["bwrap", "--unshare-all", *probe]):
        return "user"
    if _works(["unshare", "--net", "--map-root-user", "true"]):
        return "unshare"
    return "none"


def bwrap_works() -> bool:
    return _mode() in ("root", "user")


def unshare_works() -> bool:
    return _mode() != "none"


def _file_fence() -> str:
    mode = _mode()
    if mode == "root":
        return f"bubblewrap: no network, only its own files, host uid {LEARNER_UID}"
    if mode == "user" and os.geteuid() == 0:
        return (
            f"bubblewrap: no network, only its own files, but uid {LEARNER_UID} "
            "is ROOT outside (files only root may read are readable)"
        )
    if mode == "user":
        return (
            f"bubblewrap: no network, only its own files, uid {LEARNER_UID} "
            "(the grader's own uid outside)"
        )
    if mode == "unshare":
        return "no network (unshare); files NOT fenced: no bubblewrap"
    return "NO network or file fence on this machine"


def _process_fence(limits: Limits) -> str:
    if "pids" in _controllers():
        return f"at most {limits.processes} processes (cgroup)"
    if os.geteuid() != 0:
        return f"at most {limits.processes} processes (rlimit)"
    return "NO process limit (root without a pids cgroup)"


def _measure_fence() -> str:
    if _mode() == "root":
        return f"measures taken as uid {GRADER_UID}, apart from learners'"
    return "measures NOT apart from learner processes (same uid)"


def _memory_fence(limits: Limits) -> str:
    memory = f"{limits.memory_bytes / 2**30:g} GiB"
    if "memory" in _controllers():
        return f"memory at most {memory}, swap counted (cgroup)"
    return f"memory at most {memory} per process (rlimit; no cgroup)"


def _works(command: list[str]) -> bool:
    if shutil.which(command[0]) is None:
        return False
    try:
        return subprocess.run(command, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _setpriv(uid: int, keep_setuid: bool = False) -> list[str]:
    """`setpriv` to a real uid; `keep_setuid` leaves it able to start the learner."""
    words = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    if keep_setuid:
        caps = "-all,+setuid,+setgid,+setpcap"
        words += [f"--inh-caps={caps}", f"--ambient-caps={caps}"]
        return [*words, f"--bounding-set={caps}", "--"]
    words += ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
    return [*words, "--no-new-privs", "--"]


def _tmpfs(path: str, size: int) -> list[str]:
    return ["--perms", "1777", "--size", str(size), "--tmpfs", path]


def _secrets(hidden: tuple[Path, ...]) -> list[str]:
    """The grader's own mlopslab (and the course it ships), and `hidden`."""
    import mlopslab

    installed = Path(sysconfig.get_paths()["purelib"]) / "mlopslab"
    folders = (Path(mlopslab.__file__).parent, installed, *hidden)
    return sorted({str(f.resolve()) for f in folders if f.is_dir()})


def _ancestors(paths: list[str]) -> list[str]:
    """Folders bwrap makes on the way to `paths`: outside the system's own."""
    found: set[str] = set()
    for path in paths:
        for parent in Path(path).parents:
            text = str(parent)
            system = any(text == s or text.startswith(s + "/") for s in SYSTEM)
            if not system and text not in MOUNTED:
                found.add(text)
    return sorted(found, key=len)


def _feed(process: subprocess.Popen[bytes], data: bytes | None) -> None:
    """Write `data` to the process's stdin and close it: it fits the pipe's buffer."""
    if data is None or process.stdin is None:
        return
    try:
        process.stdin.write(data)
        process.stdin.close()
    except BrokenPipeError:  # it ended without reading: its outcome says why
        pass


@contextlib.contextmanager
def _arguments(args: list[str] | None) -> Iterator[int | None]:
    """bwrap's options in an in-memory file (its descriptor), or None."""
    if args is None:
        yield None
        return
    fd = os.memfd_create("bwrap-args", 0)  # inheritable only through pass_fds
    try:
        os.write(fd, b"".join(a.encode() + b"\0" for a in args))
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)


class _Tail:
    """Drains a pipe on a thread, keeping only its last `keep` bytes."""

    def __init__(self, pipe: IO[bytes], keep: int) -> None:
        self._pipe, self._keep = pipe, keep
        self._data = bytearray()
        self._cut = False
        self._thread = threading.Thread(target=self._drain, daemon=True)

    def __enter__(self) -> _Tail:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        # Every writer is dead by now (the tree and its cgroup were killed);
        # a writer that escaped both cannot hold the grader: it stops waiting.
        self._thread.join(timeout=5)
        self._pipe.close()

    def _drain(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := os.read(self._pipe.fileno(), 65536):
                self._data += chunk
                if len(self._data) > self._keep:
                    del self._data[: len(self._data) - self._keep]
                    self._cut = True

    def text(self) -> str:
        text = bytes(self._data).decode("utf-8", errors="replace")
        return f"[...]{text}" if self._cut else text


def _fenced(command: list[str], limits: Limits, groups: list[Path]) -> list[str]:
    """The command behind its rlimits (util-linux `prlimit`), in its cgroups.

    A shell joins the cgroups and then execs, so nothing the command starts is
    outside them. (No `preexec_fn`: Python code between fork and exec can
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
    if not groups and os.geteuid() != 0:
        limited.append(f"--nproc={limits.processes}")
    limited += ["--", *command]
    if not groups:
        return limited
    join = " && ".join(
        f"echo $$ > {shlex.quote(str(g / 'cgroup.procs'))}" for g in groups
    )
    return ["sh", "-c", f'{join} && exec "$@"', "sandbox", *limited]


def _wait(process: subprocess.Popen[bytes], timeout: float, groups: list[Path]) -> bool:
    """Wait; on timeout kill the whole tree. True when it timed out."""
    try:
        process.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    # Leftovers (daemons, a fork bomb's children) go too, finished or not.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for group in groups:
        _kill_cgroup(group)
    process.wait()
    return timed_out


@cache
def _controllers() -> dict[str, Path]:
    """The cgroup folders (by controller) this process may make children in."""
    candidates = {
        "pids": [("pids", "pids.max"), ("", "pids.max")],
        "memory": [("memory", "memory.limit_in_bytes"), ("", "memory.max")],
    }  # cgroup v1 (a hierarchy per controller), then v2 (one for all)
    found: dict[str, Path] = {}
    for controller, places in candidates.items():
        for root in _CGROUP_ROOTS:
            usable = [root / sub for sub, limit in places if _usable(root / sub, limit)]
            if usable:
                found[controller] = usable[0]
                break
    return found


def _usable(root: Path, limit_file: str) -> bool:
    if not (root / "cgroup.procs").exists():
        return False
    probe = root / f"mlopslab-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    usable = (probe / limit_file).exists()
    probe.rmdir()
    if usable:
        _sweep(root)
    return usable


def _sweep(root: Path) -> None:
    """Remove groups a killed grader left behind (never a live grader's)."""
    for stale in root.glob(f"{GROUP_PREFIX}*-*"):
        pid = stale.name.removeprefix(GROUP_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                stale.rmdir()  # only succeeds when no process is left in it


def _limits_for(controller: str, group: Path, limits: Limits) -> list[tuple[str, str]]:
    if controller == "pids":
        return [("pids.max", str(limits.processes))]
    memory = str(limits.memory_bytes)
    if (group / "memory.max").exists():  # cgroup v2: swap is its own limit
        swap = (
            [("memory.swap.max", "0")] if (group / "memory.swap.max").exists() else []
        )
        return [("memory.max", memory), *swap]
    settings = [("memory.limit_in_bytes", memory)]
    if (group / "memory.memsw.limit_in_bytes").exists():  # memory plus swap
        settings.append(("memory.memsw.limit_in_bytes", memory))
    return settings


@contextlib.contextmanager
def _cgroups(limits: Limits) -> Iterator[list[Path]]:
    """A new group under each usable controller, with this sandbox's limits."""
    groups: list[Path] = []
    name = f"{GROUP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        for controller, parent in _controllers().items():
            group = parent / name
            if not group.exists():  # cgroup v2: one group holds both controllers
                group.mkdir()
                groups.append(group)
            for setting, value in _limits_for(controller, group, limits):
                (group / setting).write_text(value)
        yield groups
    finally:
        for group in groups:
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
