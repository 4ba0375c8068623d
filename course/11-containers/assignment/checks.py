"""Assignment 11, public checks: `mlopslab course check 11-containers` runs these.

Nothing is built and no container engine is needed. The checks read
`container/Dockerfile` and `container/compose.yaml` as text in the grader (size
limits, line by line, `yaml.SafeLoader`), and run what the image would run in
one sandboxed session: hadolint on a snapshot of the Dockerfile, then, after
`mlopslab run --trials 4`, the Dockerfile's CMD and HEALTHCHECK on the
sandbox's own loopback, with the final stage's ENV. The session measures every
exit code and HTTP status itself.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

from mlopslab.course.grading import CheckFailed, Context, Session, check

DOCKERFILE = "container/Dockerfile"
COMPOSE = "container/compose.yaml"
DOCKERFILE_LIMIT = 16 * 1024  # bytes: the session script carries a snapshot
COMPOSE_LIMIT = 64 * 1024
IMAGE = "python:3.11-slim"
PORT, HOST, WORKSPACE = "8080", "0.0.0.0", "/srv/workspace"
SERVE_PORT, FAKE_PORT = "8765", "8766"  # the check's own ports, in the sandbox
INSTRUCTIONS = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}
# ENV that names the image's own paths, which do not exist here; the three the
# session sets itself (the workspace, the host and the port) are swapped.
NOT_PASSED = {"PATH", "PYTHONPATH", "HOME"}
SWAPPED = {"MLOPSLAB_HOME", "MLOPSLAB_SERVE__HOST", "MLOPSLAB_SERVE__PORT"}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
HEREDOC = re.compile(r"(?<![<\w])<<-?[\"']?([A-Za-z_]\w*)[\"']?(?!<)")
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET", re.IGNORECASE)
PIP = re.compile(r"(\S*/)?pip[\d.]*")
FINDING = re.compile(r"^\S*?:(\d+) (\S+) (.*)$")


# --- The Dockerfile, read as text: never built, never run in the grader. ---


@dataclass
class Stage:
    """One FROM ... section: what it starts from and what an image of it keeps."""

    base: str  # the image, or the earlier stage it starts from
    name: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    exposed: list[str] = field(default_factory=list)
    cmd: str | None = None
    entrypoint: str | None = None
    healthcheck: str | None = None


@dataclass
class Dockerfile:
    text: str
    instructions: list[tuple[int, str, str]]  # (line, KEYWORD, arguments)
    stages: list[Stage]
    declared: list[tuple[str, str, str | None]]  # (ENV or ARG, name, value)

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def runs(self) -> list[str]:
        return [rest for _, key, rest in self.instructions if key == "RUN"]


def read_dockerfile(ctx: Context) -> Dockerfile:
    """The Dockerfile, parsed once per submission (a snapshot all checks share)."""
    return ctx.step("dockerfile", lambda: parse_dockerfile(_text(ctx)))


def _text(ctx: Context) -> str:
    data = ctx.file(DOCKERFILE, limit=DOCKERFILE_LIMIT).read_bytes()
    if b"\0" in data:
        raise CheckFailed(f"{DOCKERFILE} holds a NUL byte")
    return data.decode("utf-8", "replace")


def logical_lines(text: str) -> list[tuple[int, str, str]]:
    """(line, KEYWORD, arguments): continuations joined, comments and heredocs out."""
    lines = text.splitlines()
    escape = "\\"
    for line in lines:  # parser directives come first, as comments
        directive = re.match(r"#\s*(\w+)\s*=\s*(\S+)\s*$", line)
        if not directive:
            break
        if directive[1].lower() == "escape":
            escape = directive[2][:1]
    found: list[tuple[int, str, str]] = []
    pending, start, index = "", 0, 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if not pending:
            start = index
        if line.endswith(escape):
            pending += line[: -len(escape)] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        pending = ""
        keyword, rest = keyword.upper(), rest.strip()
        found.append((start, keyword, rest))
        if keyword in ("RUN", "COPY", "ADD"):
            for word in HEREDOC.findall(rest):  # its body is no instruction
                while index < len(lines) and lines[index].strip() != word:
                    index += 1
                index += 1
    if pending:
        found.append((start, *_split(pending)))
    return found


def _split(text: str) -> tuple[str, str]:
    keyword, _, rest = text.strip().partition(" ")
    return keyword.upper(), rest.strip()


def substitute(value: str, known: dict[str, str]) -> str:
    """`$NAME` and `${NAME}` from what the stage set before (unset: empty)."""
    return VARIABLE.sub(lambda m: known.get(m[1] or m[2], ""), value)


def pairs(keyword: str, rest: str, line: int) -> list[tuple[str, str | None]]:
    """ENV's or ARG's (name, value) pairs; ARG's value may be absent."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise CheckFailed(f"line {line}: {keyword} does not parse ({exc})") from None
    if keyword == "ENV" and words and "=" not in words[0]:  # ENV NAME value
        name, _, value = rest.partition(" ")
        return [(name, " ".join(shlex.split(value)) if value else "")]
    found: list[tuple[str, str | None]] = []
    for word in words:
        name, equals, value = word.partition("=")
        found.append((name, value if equals else None))
    return found


def parse_dockerfile(text: str) -> Dockerfile:
    instructions = logical_lines(text)
    stages: list[Stage] = []
    declared: list[tuple[str, str, str | None]] = []
    global_args: dict[str, str] = {}
    for line, keyword, rest in instructions:
        if keyword not in INSTRUCTIONS:
            raise CheckFailed(
                f"line {line}: {keyword[:30]} is no Dockerfile instruction "
                "(docker build would stop there)"
            )
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                raise CheckFailed(f"line {line}: FROM names no image")
            base = substitute(words[0], global_args)
            parent = next((s for s in stages if s.name == base.lower()), None)
            stage = Stage(base=base)
            if parent is not None:  # FROM an earlier stage: it keeps what that set
                stage.env = dict(parent.env)
                stage.user, stage.exposed = parent.user, list(parent.exposed)
                stage.cmd, stage.entrypoint = parent.cmd, parent.entrypoint
                stage.healthcheck = parent.healthcheck
            if len(words) >= 3 and words[1].upper() == "AS":
                stage.name = words[2].lower()
            stages.append(stage)
            continue
        if not stages:
            if keyword != "ARG":
                raise CheckFailed(f"line {line}: {keyword} before the first FROM")
            for name, value in pairs(keyword, rest, line):
                declared.append(("ARG", name, value))
                global_args[name] = value or ""
            continue
        stage = stages[-1]
        known = {**stage.args, **stage.env}
        if keyword in ("ENV", "ARG"):
            for name, value in pairs(keyword, rest, line):
                declared.append((keyword, name, value))
                if keyword == "ENV":
                    stage.env[name] = substitute(value or "", known)
                else:
                    stage.args[name] = substitute(
                        value if value is not None else global_args.get(name, ""),
                        known,
                    )
        elif keyword == "USER":
            stage.user = substitute(rest, known)
        elif keyword == "EXPOSE":
            stage.exposed += [substitute(w, known) for w in rest.split()]
        elif keyword == "CMD":
            stage.cmd = rest
        elif keyword == "ENTRYPOINT":
            stage.entrypoint = rest
        elif keyword == "HEALTHCHECK":
            stage.healthcheck = rest
    if not stages:
        raise CheckFailed(f"{DOCKERFILE} has no FROM")
    return Dockerfile(text, instructions, stages, declared)


def exec_form(arguments: str) -> list[str] | None:
    """A JSON list of strings (exec form), or None (shell form)."""
    try:
        argv = json.loads(arguments)
    except (ValueError, RecursionError):
        return None
    if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
        return argv
    return None


def as_here(argv: list[str]) -> list[str]:
    """A program named by its path in the image (/opt/venv/bin/python) runs by name."""
    program = posixpath.basename(argv[0]) if argv[0].startswith("/") else argv[0]
    return [program, *argv[1:]]


def server_command(ctx: Context, image: Dockerfile) -> list[str]:
    """The final stage's CMD: exec form, `mlopslab serve`, no ENTRYPOINT before it."""
    final = image.final
    ctx.expect(final.entrypoint is None, "an ENTRYPOINT would run before your CMD")
    cmd = ctx.require(final.cmd, "the final stage has no CMD")
    argv = ctx.require(exec_form(cmd), f"CMD is not in exec form: {cmd[:80]}")
    argv = as_here(argv)
    ctx.expect(
        argv[:2] == ["mlopslab", "serve"],
        f"CMD starts {shlex.join(argv[:3])[:80]}, not `mlopslab serve`",
    )
    return argv


def healthcheck_command(ctx: Context, image: Dockerfile) -> list[str]:
    """The HEALTHCHECK's command: `[--option=value...] CMD [exec form]`."""
    rest = ctx.require(image.final.healthcheck, "the final stage has no HEALTHCHECK")
    while rest.startswith("--"):
        rest = rest.partition(" ")[2].lstrip()
    keyword, _, command = rest.partition(" ")
    ctx.expect(keyword.upper() == "CMD", f"HEALTHCHECK {rest[:60]} runs no command")
    argv = ctx.require(
        exec_form(command.strip()),
        f"the HEALTHCHECK's command is not in exec form: {command.strip()[:80]}",
    )
    words = " ".join(argv)
    ctx.expect(
        not re.search(r"\b(curl|wget)\b", words),
        "the HEALTHCHECK uses curl or wget: python:3.11-slim has neither",
    )
    return as_here(argv)


def runtime_env(image: Dockerfile) -> dict[str, str]:
    """The final stage's ENV as the session passes it (paths of the image out)."""
    return {
        name: value
        for name, value in image.final.env.items()
        if NAME.match(name) and name not in NOT_PASSED | SWAPPED
    }


# --- The session: hadolint, then the image's command and healthcheck. ---

# Shell helpers for the session scripts. `healthcheck NAME PORT` runs the
# HEALTHCHECK as the learner with the image's ENV and the port given, stopped
# after 10 s (Docker's --timeout would), and measures its exit code; `await
# PID URL` waits up to 30 s for URL to answer 2xx, or PID to end; `halt PID`
# sends SIGTERM (as `docker stop`), SIGKILL 10 s later, its exit in $halted.
# Every curl is the grader's own, with `-q`: no .curlrc of the learner's.
HELPERS = r"""
root=$PWD
here=(MLOPSLAB_HOME="$root/ws" MLOPSLAB_SERVE__HOST=127.0.0.1)
healthcheck() {
  [ ${#probe_cmd[@]} -gt 0 ] || return 0
  learner "logs/healthcheck-$1.log" timeout -k 2 10 \
    env "${image_env[@]}" "${here[@]}" MLOPSLAB_SERVE__PORT="$2" "${probe_cmd[@]}"
  measure "healthcheck.$1" $?
}
alive() {  # running, not a zombie
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}
await() {
  local end=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$end" ]; do
    curl -q -sf --max-time 2 -o /dev/null "$2" && return 0
    alive "$1" || return 1
    sleep 0.1
  done
  return 1
}
halt() {
  learner /dev/null kill -TERM "$1"
  for _ in $(seq 100); do alive "$1" || break; sleep 0.1; done
  alive "$1" && learner /dev/null kill -KILL "$1"
  wait "$1"
  halted=$?
}
status() { curl -q -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"; }
serve() {  # serve NAME PORT: the CMD, with the image's ENV, until it answers /ready
  start "logs/serve-$1.log" \
    env "${image_env[@]}" "${here[@]}" MLOPSLAB_SERVE__PORT="$2" "${serve_cmd[@]}"
  server=$started
  await "$server" "http://127.0.0.1:$2/ready"
  measure "$1.ready" "$(status "http://127.0.0.1:$2/ready")"
}
fake() {  # fake MODE PORT: a server whose /ready answers 503 (or 200), all else 200
  start "logs/fake-$1-$2.log" python -I -c "$fake_server" "$1" "$2"
  faked=$started
  await "$faked" "http://127.0.0.1:$2/health"
}
learner /dev/null mkdir -p logs
"""
FAKE_SERVER = r"""
import http.server, sys
mode, port = sys.argv[1], int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        not_ready = self.path.startswith("/ready") and mode == "unready"
        body = b'{"ready": false}' if not_ready else b'{"ready": true}'
        self.send_response(503 if not_ready else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)
    do_HEAD = do_GET
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""
# hadolint reads a snapshot the grader wrote (the file the other checks read),
# from `/`, with no HOME: no .hadolint.yaml and no `# hadolint ignore=` apply.
SESSION = rf"""
lint=$(mktemp /tmp/lint.XXXXXX) && chmod 644 "$lint"
printf '%s' "$dockerfile" | base64 -d > "$lint"
findings=$(cd / && probe "$root/logs/hadolint.err" timeout -k 2 30 \
  env -u XDG_CONFIG_HOME HOME=/nonexistent \
  hadolint --no-color --disable-ignore-pragma --failure-threshold style "$lint")
measure hadolint.code $?
printf '%s' "$findings" | head -c 20000 | report hadolint.findings
learner logs/run.log timeout -k 5 150 mlopslab run --trials 4 --home ws ||
  measure run failed
healthcheck before {SERVE_PORT}
if [ ${{#serve_cmd[@]}} -gt 0 ]; then
  serve public {SERVE_PORT}
  healthcheck serving {SERVE_PORT}
  halt "$server"
  measure public.stopped "$halted"
  healthcheck stopped {SERVE_PORT}
fi
fake unready {FAKE_PORT}
healthcheck unready {FAKE_PORT}
halt "$faked"
"""


def bash_array(name: str, words: list[str]) -> str:
    return f"{name}=({' '.join(shlex.quote(w) for w in words)})\n"


def given(ctx: Context) -> str:
    """The session's inputs: the Dockerfile's snapshot, ENV, CMD and HEALTHCHECK."""
    image = read_dockerfile(ctx)
    env = [f"{name}={value}" for name, value in runtime_env(image).items()]
    commands = []
    for name, read in (
        ("serve_cmd", server_command),
        ("probe_cmd", healthcheck_command),
    ):
        try:
            commands.append(bash_array(name, read(ctx, image)))
        except CheckFailed:
            commands.append(f"{name}=()\n")  # its own check says why
    snapshot = base64.b64encode(image.text.encode()).decode()
    return (
        f"dockerfile={snapshot}\n"
        + bash_array("image_env", env)
        + "".join(commands)
        + f"fake_server={shlex.quote(FAKE_SERVER)}\n"
        + HELPERS
    )


def session(ctx: Context) -> Session:
    return ctx.session(given(ctx) + SESSION, timeout=200)


def exit_code(found: Session, name: str) -> int | None:
    raw = found.measures.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() else None


def log_tail(ctx: Context, name: str) -> str:
    """The last lines a learner process printed (for the feedback only)."""
    try:
        data = ctx.file(f"logs/{name}.log").read_bytes()[-2000:]
    except CheckFailed:
        return ""
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines()]
    tail = [ln[:160] for ln in lines if ln][-3:]
    return f"; it printed: {' | '.join(tail)}" if tail else ""


def answered(ctx: Context, found: Session, name: str, port: str) -> None:
    """The CMD started as `name` answered /ready with 200 (the grader's curl)."""
    ctx.expect("run" not in found.measures, "`mlopslab run --trials 4` failed")
    status = found.measure(f"{name}.ready")
    ctx.expect(
        status == "200",
        f"your CMD, on port {port}, did not answer /ready with 200 within 30 s "
        f"(status {status or 'none'})" + log_tail(ctx, f"serve-{name}"),
    )


def healthy(ctx: Context, found: Session, name: str, expected: bool, when: str) -> None:
    """The healthcheck run `name` exited 0 (expected True) or not (False)."""
    code = exit_code(found, f"healthcheck.{name}")
    ctx.expect(code is not None, f"the healthcheck did not run {when}")
    if expected:
        ctx.expect(
            code == 0,
            f"the healthcheck exited {code} {when}, expected 0"
            + log_tail(ctx, f"healthcheck-{name}"),
        )
    else:
        ctx.expect(code != 0, f"the healthcheck exited 0 {when}, expected non-zero")


# --- compose.yaml, read with the safe loader: only known keys, types checked. ---


def read_compose(ctx: Context) -> dict[Any, Any]:
    path = ctx.file(COMPOSE, limit=COMPOSE_LIMIT)
    try:
        found = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", None) or exc).strip()
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CheckFailed(f"{COMPOSE} does not parse: {problem[:160]}{where}") from None
    ctx.expect(isinstance(found, dict), f"{COMPOSE} is not a YAML mapping")
    assert isinstance(found, dict)
    return found


def mounts(service: dict[Any, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, named volume?) of a service's volumes, short or long form."""
    entries = service.get("volumes") or []
    if not isinstance(entries, list) or len(entries) > 50:
        raise CheckFailed("a service's `volumes:` is not a short list")
    found = []
    for entry in entries:
        if isinstance(entry, str):
            parts = entry.split(":")
            if len(parts) < 2:
                continue  # an anonymous volume
            source, target = parts[0], parts[1]
            named = not source.startswith((".", "/", "~", "$"))
        elif isinstance(entry, dict):
            source, target = (
                str(entry.get("source", ""))[:200],
                str(entry.get("target", ""))[:200],
            )
            named = entry.get("type", "volume") == "volume" and bool(source)
        else:
            continue
        found.append((source, target, named))
    return found


def publishes(service: dict[Any, Any], port: str) -> bool:
    """A `ports:` entry publishes the container's `port` (short or long form)."""
    entries = service.get("ports") or []
    if not isinstance(entries, list):
        return False
    for entry in entries[:50]:
        if isinstance(entry, int):
            inside = str(entry)
        elif isinstance(entry, str):
            inside = entry.split("/")[0].rsplit(":", 1)[-1]
        elif isinstance(entry, dict):
            inside = str(entry.get("target", ""))
        else:
            continue
        if inside == port:
            return True
    return False


def compose_problems(data: dict[Any, Any]) -> list[str]:
    """What the compose file lacks of the task's `model` service (empty: nothing)."""
    services = data.get("services")
    if not isinstance(services, dict):
        return ["no `services:` mapping"]
    model = services.get("model")
    if not isinstance(model, dict):
        return ["no `model` service"]
    problems = []
    build = model.get("build")
    context = build.get("context") if isinstance(build, dict) else None
    dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
    if not (isinstance(context, str) and posixpath.normpath(context) == ".."):
        problems.append("`model` is not built with context `..`")
    if not (
        isinstance(dockerfile, str)
        and posixpath.normpath(dockerfile) == "container/Dockerfile"
    ):
        problems.append("`model` is not built from container/Dockerfile")
    if not publishes(model, PORT):
        problems.append(f"`model` does not publish port {PORT}")
    declared = data.get("volumes")
    declared = declared if isinstance(declared, dict) else {}
    if not any(
        named and target.rstrip("/") == WORKSPACE for _, target, named in mounts(model)
    ):
        problems.append(f"`model` mounts no named volume at {WORKSPACE}")
    for name, service in list(services.items())[:50]:
        if not isinstance(service, dict):
            continue
        for source, _, named in mounts(service):
            if named and source not in declared:
                problems.append(
                    f"`{str(name)[:40]}` mounts the volume `{source[:40]}`, "
                    "not declared under the top-level `volumes:`"
                )
    return problems


# --- The checks. ---


@check(
    "hadolint finds nothing in container/Dockerfile",
    points=2,
    timeout=200,
    success="hadolint exited 0 and printed nothing",
    failure="hadolint has findings",
)
def lint_clean(ctx: Context) -> None:
    found = session(ctx)
    code = exit_code(found, "hadolint.code")
    ctx.expect(code != 127, "hadolint is not installed where the grader runs")
    findings = []
    for raw in found.measure("hadolint.findings").splitlines()[:5]:
        match = FINDING.match(raw)
        findings.append(f"line {match[1]} {match[2]} {match[3]}" if match else raw)
    ctx.expect(
        code == 0 and not findings,
        f"hadolint exited {code}: " + " | ".join(f[:140] for f in findings),
    )


@check(
    "the image is python:3.11-slim, built from uv.lock",
    points=2,
    timeout=30,
    success="every FROM is python:3.11-slim and every uv sync is --locked",
    failure="the image is not built from the lock",
)
def built_from_lock(ctx: Context) -> None:
    image = read_dockerfile(ctx)
    names = {s.name for s in image.stages if s.name}
    for stage in image.stages:
        base = stage.base
        ok = base.split("@")[0] == IMAGE or base.lower() in names
        ctx.expect(ok, f"FROM {base[:60]}: every stage starts from {IMAGE}")
    copies = [r for _, k, r in image.instructions if k in ("COPY", "ADD")]
    locked = any(
        "uv.lock" in word.split("/")
        for rest in copies
        if "--from" not in rest
        for word in (w.strip('[]",') for w in rest.split()[:-1])
    ) or any(re.search(r"--mount=\S*source=(\./)?uv\.lock\b", r) for r in image.runs())
    ctx.expect(locked, "no COPY (or RUN --mount) brings uv.lock into the build")
    syncs = [
        command
        for rest in image.runs()
        for command in re.split(r"&&|\|\||;|\|", rest)
        if re.search(r"(^|[\s/])uv\s+sync\b", command)
    ]
    ctx.expect(bool(syncs), "no RUN runs `uv sync`")
    for command in syncs:
        words = command.split()
        ctx.expect(
            "--locked" in words or "--frozen" in words,
            f"`{command.strip()[:80]}` may change the lock: add --locked",
        )
    for rest in image.runs():
        for command in re.split(r"&&|\|\||;|\|", rest):
            words = command.split()
            pip = [i for i, w in enumerate(words) if PIP.fullmatch(w)]
            if not pip or "install" not in words[pip[0] :]:
                continue
            after = words[words.index("install", pip[0]) + 1 :]
            packages = [w.strip("\"'") for w in after if not w.startswith("-")]
            for package in packages:
                ctx.expect(
                    re.match(r"uv==\S+$", package) is not None,
                    f"`pip install {package[:40]}`: only uv (==its version) is "
                    "installed by pip; the rest comes from uv.lock",
                )


@check(
    "the image runs as a user of its own",
    points=1,
    timeout=30,
    success="the final stage's last USER is not root",
    failure="the server would run as root",
)
def not_root(ctx: Context) -> None:
    user = read_dockerfile(ctx).final.user
    ctx.expect(user is not None, "the final stage sets no USER: it runs as root")
    assert user is not None
    name = user.split(":")[0].strip()
    ctx.expect(name not in {"", "root", "0"}, f"the final stage's USER is {user[:40]}")


@check(
    "port 8080 on all interfaces, /srv/workspace, EXPOSE 8080 and no secret in ENV",
    points=1,
    timeout=30,
    success="ENV and EXPOSE as asked, and no PASSWORD, TOKEN or SECRET with a value",
    failure="the image's settings are not as asked",
)
def settings(ctx: Context) -> None:
    image = read_dockerfile(ctx)
    env = image.final.env
    for name, value in (
        ("MLOPSLAB_SERVE__PORT", PORT),
        ("MLOPSLAB_SERVE__HOST", HOST),
        ("MLOPSLAB_HOME", WORKSPACE),
    ):
        found = env.get(name)
        ctx.expect(
            found is not None and found.rstrip("/") == value,
            f"ENV {name} is {found[:40] if found is not None else 'not set'}"
            f", not {value}",
        )
    exposed = [p.split("/")[0] for p in image.final.exposed]
    ctx.expect(PORT in exposed, f"the final stage does not EXPOSE {PORT}")
    for keyword, name, value in image.declared:
        ctx.expect(
            not (SECRET_NAME.search(name) and value),
            f"{keyword} {name[:40]} has a value: a secret in the image",
        )


@check(
    "the CMD serves the model: /ready answers 200",
    points=2,
    timeout=200,
    success="the CMD, with your ENV, answered /ready with 200",
    failure="the image's command does not serve",
)
def cmd_serves(ctx: Context) -> None:
    server_command(ctx, read_dockerfile(ctx))
    found = session(ctx)
    answered(ctx, found, "public", SERVE_PORT)


@check(
    "the HEALTHCHECK follows /ready: 0 only while the server is ready",
    points=3,
    timeout=200,
    success="non-zero before the start, 0 while ready, non-zero once stopped "
    "and non-zero against a 503 on /ready",
    failure="the healthcheck does not tell a ready server",
)
def healthcheck_follows(ctx: Context) -> None:
    image = read_dockerfile(ctx)
    healthcheck_command(ctx, image)
    server_command(ctx, image)
    found = session(ctx)
    answered(ctx, found, "public", SERVE_PORT)
    healthy(ctx, found, "before", False, "before the server started")
    healthy(ctx, found, "serving", True, "while the server was ready")
    healthy(ctx, found, "stopped", False, "after the server was stopped")
    healthy(
        ctx,
        found,
        "unready",
        False,
        "against a server whose /ready answers 503 (and /health 200)",
    )


@check(
    "compose.yaml builds the model service with its port and a named volume",
    points=2,
    timeout=30,
    success="the `model` service is built, published and given its volume",
    failure="the compose file is not as asked",
)
def compose_service(ctx: Context) -> None:
    problems = compose_problems(read_compose(ctx))
    ctx.expect(not problems, "; ".join(problems[:3]))
