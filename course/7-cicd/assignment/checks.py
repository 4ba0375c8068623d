"""Assignment 7, public checks: `mlopslab course check 7-cicd` runs these.

The workflow is read, never run: the checks parse it with `yaml.safe_load` and
work out what its gate step's MLOPSLAB_TUNE__TRIALS would be on a pull request
and on a push to main (plain values, and `${{ }}` expressions written with a
small part of GitHub's expression language; anything else fails and says so).

`ci/gate.sh` runs in one sandboxed session, from fresh folders inside your
copy, as `bash ../ci/gate.sh`. The session measures each exit code itself;
gate-result.json only has to agree with what it measured, and the registry
that mlopslab left in the folder shows that the run really happened there.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from typing import Any

import yaml

from mlopslab.course.grading import CheckFailed, Context, Session, check

WORKFLOW = ".github/workflows/mlops-pipeline.yml"
WORKFLOW_LIMIT = 64 * 1024  # bytes: a workflow is a page or two
GATE_COMMAND = "bash ci/gate.sh"
TRIALS = "MLOPSLAB_TUNE__TRIALS"
OUTCOMES = {0: "approved", 3: "rejected"}  # any other code: "error"

# `gate NAME DIR LIMIT VAR=VALUE...` runs `bash ../ci/gate.sh` in DIR (a folder
# of the copy) as the learner, with 4 trials and the variables given, stopped
# after LIMIT seconds. The session measures its exit code and reports what
# gate-result.json says (its first 4 KB), read by the learner's own `head`
# (bounded too: the file could be a pipe that never ends).
# `fresh DIR` makes DIR anew and empty, whatever the copy had there.
GATE = r"""
learner /dev/null mkdir -p gate-logs
fresh() { learner /dev/null rm -rf -- "$1"; learner /dev/null mkdir -- "$1"; }
gate() {
  name=$1 dir=$2 limit=$3; shift 3
  learner /dev/null rm -f -- "$dir/gate-result.json"
  learner "gate-logs/$name.log" timeout -k 5 "$limit" \
    env -C "$dir" MLOPSLAB_TUNE__TRIALS=4 "$@" bash ../ci/gate.sh
  measure "$name.code" $?
  probe /dev/null timeout -k 1 10 head -c 4096 -- "$dir/gate-result.json" |
    report "$name.json"
}
"""
SESSION = (
    GATE
    + r"""
fresh gate-a
gate approve gate-a 120
gate reject gate-a 120 'MLOPSLAB_GATE__THRESHOLDS={ accuracy = 0.999 }'
gate error gate-a 45 MLOPSLAB_DATA__SOURCE=nowhere.csv
"""
)
COMMANDS = {  # what each gate run was, for the feedback
    "approve": "bash ../ci/gate.sh",
    "reject": "MLOPSLAB_GATE__THRESHOLDS='{ accuracy = 0.999 }' bash ../ci/gate.sh",
    "error": "MLOPSLAB_DATA__SOURCE=nowhere.csv bash ../ci/gate.sh",
}


def session(ctx: Context) -> Session:
    return ctx.session(SESSION, timeout=300)


def short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def log_tail(ctx: Context, name: str) -> str:
    """The last lines the gate printed (learner output, for the feedback only)."""
    try:
        data = ctx.file(f"gate-logs/{name}.log").read_bytes()[-2000:]
    except CheckFailed:
        return ""
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines()]
    tail = [ln[:160] for ln in lines if ln][-3:]
    return f"; it printed: {' | '.join(tail)}" if tail else ""


def gated(ctx: Context, name: str, expected: int, found: Session, command: str) -> None:
    """The gate run `name` exited `expected` (measured), and its JSON agrees."""
    raw = found.measure(f"{name}.code")
    ctx.expect(raw.isascii() and raw.isdigit(), f"no exit code for `{command}`")
    code = int(raw)
    if code != expected:
        hint = {
            124: " (stopped: it ran too long)",
            127: " (is ci/gate.sh in the repository?)",
        }.get(code, "")
        raise CheckFailed(
            f"`{command}` exited {code}{hint}, expected {expected}"
            + log_tail(ctx, name)
        )
    text = found.measure(f"{name}.json")
    ctx.expect(
        bool(text.strip()), "no gate-result.json in the folder the gate ran from"
    )
    try:
        result = json.loads(text)
    except (ValueError, RecursionError):
        raise CheckFailed(
            f"gate-result.json is not valid JSON: {short(text)}"
        ) from None
    want = {"exit_code": code, "outcome": OUTCOMES.get(code, "error")}
    agrees = (
        isinstance(result, dict)
        and type(result.get("exit_code")) is int
        and result["exit_code"] == code
        and result.get("outcome") == want["outcome"]
    )
    ctx.expect(
        agrees,
        f"gate-result.json says {short(text.strip(), 100)}, "
        f"expected {json.dumps(want)} (the measured exit was {code})",
    )


# --- The workflow, read defensively: only known keys, each type checked. ---


def workflow(ctx: Context) -> dict[Any, Any]:
    path = ctx.file(WORKFLOW, limit=WORKFLOW_LIMIT)
    try:
        found = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", None) or exc).strip()
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CheckFailed(
            f"{WORKFLOW} does not parse: {problem[:160]}{where}"
        ) from None
    ctx.expect(isinstance(found, dict), f"{WORKFLOW} is not a YAML mapping")
    return found


def gate_job(
    ctx: Context, flow: dict[Any, Any]
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The first job and step whose `run` contains `bash ci/gate.sh`."""
    jobs = flow.get("jobs")
    ctx.expect(isinstance(jobs, dict), "the workflow has no `jobs:` mapping")
    for job in jobs.values():
        steps = job.get("steps") if isinstance(job, dict) else None
        for step in steps if isinstance(steps, list) else []:
            run = step.get("run") if isinstance(step, dict) else None
            if isinstance(run, str) and GATE_COMMAND in run:
                return job, step
    raise CheckFailed(f"no step's `run` contains `{GATE_COMMAND}`")


def triggers(ctx: Context, flow: dict[Any, Any]) -> dict[str, Any]:
    """The `on:` events (PyYAML reads a bare `on` key as True)."""
    on = flow.get("on", flow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {e: None for e in on if isinstance(e, str)}
    if isinstance(on, dict):
        return {k: v for k, v in on.items() if isinstance(k, str)}
    raise CheckFailed("the workflow has no `on:` triggers")


def names_main(branches: object) -> bool:
    if isinstance(branches, str):
        return branches == "main"
    return isinstance(branches, list) and "main" in branches


def uploads(job: dict[Any, Any]) -> list[dict[Any, Any]]:
    steps = job.get("steps")
    return [
        s
        for s in steps
        if isinstance(s, dict)
        and isinstance(s.get("uses"), str)
        and s["uses"].split("@")[0].strip() == "actions/upload-artifact"
    ]


def unwrapped(text: str) -> str:
    """`${{ X }}` as `X`; then whitespace removed."""
    text = text.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return "".join(text.split())


def always(step: dict[Any, Any]) -> bool:
    condition = step.get("if")
    return isinstance(condition, str) and unwrapped(condition) == "always()"


def with_(step: dict[Any, Any]) -> dict[Any, Any]:
    inputs = step.get("with")
    return inputs if isinstance(inputs, dict) else {}


def hidden_files(step: dict[Any, Any]) -> bool:
    value = with_(step).get("include-hidden-files")
    return value is True or (isinstance(value, str) and value.strip() == "true")


def covers(step: dict[Any, Any], target: str) -> bool:
    """One of the step's `path` lines uploads `target` (a file or a folder)."""
    paths = with_(step).get("path")
    if not isinstance(paths, str):
        return False
    for line in paths.splitlines()[:50]:
        pattern = re.sub(r"^\$\{\{\s*github\.workspace\s*\}\}/", "", line.strip())
        if not pattern or pattern.startswith(("!", "#")) or len(pattern) > 200:
            continue
        while pattern.startswith("./"):
            pattern = pattern[2:]
        for suffix in ("/**/*", "/**", "/*"):
            if pattern.endswith(suffix):
                pattern = pattern[: -len(suffix)]
                break
        pattern = pattern.rstrip("/") or "."
        if (
            pattern in (".", "**", target)
            or target.startswith(pattern + "/")
            or fnmatch.fnmatchcase(target, pattern)
        ):
            return True
    return False


# --- GitHub expressions: a small, safe evaluator (nothing is ever executed). ---

PULL_REQUEST = object()  # github.event.pull_request on a pull request: an object
EVENTS: dict[str, dict[str, object]] = {
    "pull_request": {
        "github.event_name": "pull_request",
        "github.ref": "refs/pull/7/merge",
        "github.ref_name": "7/merge",
        "github.ref_type": "branch",
        "github.base_ref": "main",
        "github.head_ref": "a-feature",
        "github.event.pull_request": PULL_REQUEST,
    },
    "push": {
        "github.event_name": "push",
        "github.ref": "refs/heads/main",
        "github.ref_name": "main",
        "github.ref_type": "branch",
        "github.base_ref": "",
        "github.head_ref": "",
        "github.event.pull_request": None,
    },
}
SUPPORTED = (
    "plain values and one `${{ }}` expression of quoted strings, numbers, "
    "true/false/null, ==, !=, !, &&, || and parentheses over "
    + ", ".join(sorted(EVENTS["push"]))
)
EXPRESSION_LIMIT = 400  # characters
DEPTH_LIMIT = 20  # nested parentheses and negations
TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<op>&&|\|\||==|!=|!|\(|\))|(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*))"
)


class Unsupported(CheckFailed):
    pass


def tokens(text: str) -> list[tuple[str, str]]:
    found, at = [], 0
    while at < len(text):
        match = TOKEN.match(text, at)
        if match is None or match.end() == at:
            if not text[at:].strip():
                break
            raise Unsupported(f"cannot read `{text[at : at + 20]}`")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


class Expression:
    """GitHub's expression semantics for the supported part of the language."""

    def __init__(self, text: str, event: str) -> None:
        if len(text) > EXPRESSION_LIMIT:
            raise Unsupported(f"an expression over {EXPRESSION_LIMIT} characters")
        self.items = tokens(text)
        self.at = 0
        self.depth = 0
        self.context = EVENTS[event]

    def value(self) -> object:
        result = self.either()
        if self.at != len(self.items):
            raise Unsupported(f"unexpected `{self.items[self.at][1][:20]}`")
        return result

    def peek(self) -> str | None:
        return self.items[self.at][1] if self.at < len(self.items) else None

    def take(self) -> tuple[str, str]:
        if self.at >= len(self.items):
            raise Unsupported("the expression ends too soon")
        self.at += 1
        return self.items[self.at - 1]

    def either(self) -> object:
        left = self.both()
        while self.peek() == "||":
            self.take()
            right = self.both()
            left = left if truthy(left) else right
        return left

    def both(self) -> object:
        left = self.compared()
        while self.peek() == "&&":
            self.take()
            right = self.compared()
            left = right if truthy(left) else left
        return left

    def compared(self) -> object:
        left = self.unary()
        while self.peek() in ("==", "!="):
            operator = self.take()[1]
            same = equal(left, self.unary())
            left = same if operator == "==" else not same
        return left

    def unary(self) -> object:
        if self.peek() == "!":
            self.take()
            with self.nested():
                return not truthy(self.unary())
        return self.primary()

    def primary(self) -> object:
        kind, text = self.take()
        if text == "(" and kind == "op":
            with self.nested():
                inner = self.either()
            if self.take()[1] != ")":
                raise Unsupported("a `(` is never closed")
            return inner
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text)
        if kind == "name":
            if self.peek() == "(":
                raise Unsupported(f"the function `{text[:30]}()`")
            literals: dict[str, object] = {"true": True, "false": False, "null": None}
            if text in literals:
                return literals[text]
            if text not in self.context:
                raise Unsupported(f"the context value `{text[:40]}`")
            return self.context[text]
        raise Unsupported(f"unexpected `{text[:20]}`")

    def nested(self) -> _Depth:
        return _Depth(self)


class _Depth:
    def __init__(self, expression: Expression) -> None:
        self.expression = expression

    def __enter__(self) -> None:
        self.expression.depth += 1
        if self.expression.depth > DEPTH_LIMIT:
            raise Unsupported(f"more than {DEPTH_LIMIT} nested levels")

    def __exit__(self, *_: object) -> None:
        self.expression.depth -= 1


def truthy(value: object) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def number(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    return math.nan  # an object


def equal(left: object, right: object) -> bool:
    """`==` as GitHub has it: strings ignore case, other types compare as numbers."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return left is right if left is PULL_REQUEST else left == right
    if PULL_REQUEST in (left, right):
        return False
    return number(left) == number(right)


def as_env(value: object) -> str:
    """An expression's value as the environment variable GitHub would set."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise Unsupported("it evaluates to an object, not a value")


def env_value(value: object, event: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise Unsupported("its value is not a string or a number")
    if "${{" not in value:
        return value
    inner = value.strip()
    if not (inner.startswith("${{") and inner.endswith("}}")):
        raise Unsupported("text around a `${{ }}` expression")
    inner = inner[3:-2]
    if "${{" in inner or "}}" in inner:
        raise Unsupported("more than one `${{ }}` expression")
    return as_env(Expression(inner, event).value())


def trials(
    ctx: Context,
    flow: dict[Any, Any],
    job: dict[Any, Any],
    step: dict[Any, Any],
    event: str,
) -> str | None:
    """MLOPSLAB_TUNE__TRIALS in the gate step on `event` (None: not set)."""
    for where, layer in (("step", step), ("job", job), ("workflow", flow)):
        env = layer.get("env")
        if env is None:
            continue
        ctx.expect(
            isinstance(env, dict),
            f"the gate {where}'s `env:` is not a mapping (the checks read {SUPPORTED})",
        )
        if TRIALS in env:
            try:
                return env_value(env[TRIALS], event)
            except Unsupported as exc:
                raise CheckFailed(
                    f"{TRIALS} in the gate {where}'s env: the checks cannot evaluate "
                    f"{exc} (they read {SUPPORTED})"
                ) from None
    return None


# --- The checks. ---


@check(
    "the workflow parses, runs on pull requests and pushes to main, and runs the gate",
    points=1,
    timeout=20,
    success="pull_request and push to main trigger it; a step runs bash ci/gate.sh",
    failure="the workflow's triggers or gate step are not as asked",
)
def workflow_triggers(ctx: Context) -> None:
    flow = workflow(ctx)
    events = triggers(ctx, flow)
    ctx.expect("pull_request" in events, "`pull_request` is not among its triggers")
    ctx.expect("push" in events, "`push` is not among its triggers")
    push = events["push"]
    ctx.expect(
        isinstance(push, dict) and names_main(push.get("branches")),
        "`push` has no `branches:` list naming main",
    )
    gate_job(ctx, flow)


@check(
    "the upload keeps .mlopslab/runs and gate-result.json, even after a failure",
    points=1,
    timeout=20,
    success="actions/upload-artifact with if: always(), include-hidden-files: true",
    failure="the upload does not keep the evidence as asked",
)
def workflow_upload(ctx: Context) -> None:
    flow = workflow(ctx)
    job, _ = gate_job(ctx, flow)
    found = uploads(job)
    ctx.expect(bool(found), "no actions/upload-artifact step in the gate's job")
    runs = [s for s in found if covers(s, ".mlopslab/runs")]
    ctx.expect(bool(runs), "no upload's `path` covers .mlopslab/runs")
    ctx.expect(
        any(always(s) for s in runs),
        "the upload of .mlopslab/runs has no `if: always()`",
    )
    ctx.expect(
        any(always(s) and hidden_files(s) for s in runs),
        "the upload of .mlopslab/runs lacks `include-hidden-files: true`",
    )
    ctx.expect(
        any(always(s) and covers(s, "gate-result.json") for s in found),
        "no upload with `if: always()` covers gate-result.json",
    )


@check(
    "MLOPSLAB_TUNE__TRIALS is 4 on pull requests, and not on pushes to main",
    points=2,
    timeout=20,
    success="4 on pull_request; on push to main unset or another whole number",
    failure="the trials do not depend on the event as asked",
)
def workflow_trials(ctx: Context) -> None:
    flow = workflow(ctx)
    job, step = gate_job(ctx, flow)
    pull = trials(ctx, flow, job, step, "pull_request")
    ctx.expect(pull is not None, f"{TRIALS} is not set for the gate step")
    ctx.expect(
        (pull or "").strip() == "4", f"on a pull request {TRIALS} is {short(pull)}"
    )
    push = trials(ctx, flow, job, step, "push")
    if push is not None:
        whole = push.strip().isascii() and push.strip().isdigit()
        ctx.expect(
            whole and int(push) >= 1,
            f"on a push to main {TRIALS} is {short(push)}: not a whole number of "
            "trials (mlopslab would exit 2)",
        )
        ctx.expect(int(push) != 4, f"on a push to main {TRIALS} is 4 too")


@check(
    "from a fresh folder, the gate approves: exit 0 and gate-result.json agrees",
    points=2,
    timeout=320,
    success="exit 0, {exit_code: 0, outcome: approved}, v1 champion in ./.mlopslab",
    failure="the approving run did not go as asked",
)
def approves(ctx: Context) -> None:
    gated(ctx, "approve", 0, session(ctx), COMMANDS["approve"])
    versions = ctx.versions("gate-a/.mlopslab")
    first = ctx.require(versions.get("1"), "no version 1 in gate-a/.mlopslab")
    ctx.expect("champion" in first["aliases"], "version 1 is not the champion")


@check(
    "a threshold of 0.999 rejects: exit 3, and the champion stays",
    points=3,
    timeout=320,
    success="exit 3, {exit_code: 3, outcome: rejected}, v2 rejected, v1 champion",
    failure="the rejecting run did not go as asked",
)
def rejects(ctx: Context) -> None:
    gated(ctx, "reject", 3, session(ctx), COMMANDS["reject"])
    versions = ctx.versions("gate-a/.mlopslab")
    first = versions.get("1", {"aliases": set()})
    ctx.expect("champion" in first["aliases"], "version 1 is no longer the champion")
    second = ctx.require(versions.get("2"), "no version 2: did mlopslab run?")
    ctx.expect(second["tags"].get("status") == "rejected", "version 2 is not rejected")


@check(
    "a missing data file is an error: exit 4, outcome error",
    points=2,
    timeout=320,
    success='exit 4 and {"exit_code": 4, "outcome": "error"}',
    failure="the data error did not come through as asked",
)
def data_error(ctx: Context) -> None:
    gated(ctx, "error", 4, session(ctx), COMMANDS["error"])
