"""Assignment 12, hidden checks: run only by `mlopslab course grade`.

Instructor material: `mlopslab course export --student` leaves this folder out.
They read the same parsed DESIGN.md as the public checks (the `design` step,
taken before any of the learner's code runs: what their code does to the file
later is never graded), and ask the learner's own CLI, in the sandbox, which
commands and options it has.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from mlopslab.course.grading import CheckFailed, Context, check

from ..assignment.checks import DURATION, failure_rows, quote, short, slo_rows

MAX_COMMANDS = 10  # distinct (sub)commands asked for their help, per submission
CODE_SPAN = re.compile(r"`([^`\n]{1,400})`")
COMMAND = re.compile(r"(?:^|[\s/;&|(])mlopslab[ \t]+([^;&|)`]*)")
METRIC = re.compile(r"(?<![A-Za-z0-9])mlopslab_[a-z0-9_]+")
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created", "_info")
PERCENT = re.compile(r"(?<![\d.])(\d{1,15}(?:\.\d{1,15})?)\s?(?:%|percent)", re.I)
AVAILABILITY = re.compile(
    r"availab|uptime|success|answered|served|non-5xx|not 5xx|error rate|errors",
    re.IGNORECASE,
)
# Each failure family: words that name it, matched on the failure's own text
# and its impact (not on the detection or mitigation columns).
DRIFT = re.compile(r"drift|shift|distribution|skew|unseen categor", re.IGNORECASE)
DEPENDENCY = re.compile(
    r"registry|mlflow|database|postgres|sqlite|capture store|store|storage|disk"
    r"|network|dns|upstream|dependency|third.party|api\b|s3\b|bucket|queue|broker",
    re.IGNORECASE,
)
OUTAGE = re.compile(
    r"outage|down\b|unavailable|unreachable|fails?\b|failure|lost|full|timeouts?"
    r"|time.?out|crash|not respond|locked|corrupt",
    re.IGNORECASE,
)
RELEASE = re.compile(
    r"(?:bad|broken|faulty|wrong|buggy|worse|regress\w*|corrupt\w*|poor)"
    r"\W+(?:\w+\W+){0,3}?(?:model|release|version|deploy\w*|champion|retrain\w*)"
    r"|(?:model|release|version|deploy\w*|champion|retrain\w*)\W+(?:\w+\W+){0,4}?"
    r"(?:regress\w*|worse|broken|bad|wrong|fails? silently)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Help:
    commands: frozenset[str]  # its subcommands (empty for a leaf command)
    options: frozenset[str]


def parse_help(text: str) -> Help:
    """Commands and options from a Typer/Click help screen (boxed or plain)."""
    commands: set[str] = set()
    inside = False
    for line in text.splitlines():
        bare = line.strip().strip("│|").strip()
        if re.match(r"^[╭─┌+-]*\s*Commands\b", line.strip()):
            inside = True
            continue
        if inside and (line.strip().startswith(("╰", "└")) or not bare):
            inside = False
            continue
        found = re.match(r"^([a-z][\w-]*)(?:\s{2,}|$)", bare) if inside else None
        if found:
            commands.add(found.group(1))
    options = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", text))
    return Help(frozenset(commands), frozenset(options))


def cli_help(ctx: Context, *command: str) -> Help:
    """`mlopslab COMMAND... --help` in the sandbox, once per submission."""

    def ask() -> Help:
        shown = ctx.mlopslab(*command, "--help", timeout=30)
        ctx.expect_exit(shown, 0, " ".join(("mlopslab", *command, "--help")))
        return parse_help(shown.stdout)

    return ctx.step("help " + " ".join(command), ask)


def known_metrics() -> frozenset[str]:
    """The metrics mlopslab exposes: `serve`'s /metrics and the monitor's
    metrics.prom, read from the grader's own (trusted) package."""
    names: set[str] = set()
    for module in ("mlopslab.serving.metrics", "mlopslab.flows.monitoring"):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        source = Path(spec.origin).read_text(encoding="utf-8")
        names.update(re.findall(r"[\"'](mlopslab_[a-z0-9_]+)[\"']", source))
    return frozenset(names)


def metric_exists(name: str, known: frozenset[str]) -> bool:
    if name in known:
        return True
    return any(name.endswith(s) and name[: -len(s)] in known for s in SUFFIXES)


def commands_in(text: str) -> list[list[str]]:
    """Each `mlopslab ...` command line written in a code span of `text`."""
    found = []
    for span in CODE_SPAN.findall(text):
        for match in COMMAND.finditer(span):
            found.append(match.group(1).split())
    return found


def command_problem(ctx: Context, argv: list[str], asked: set[str]) -> str | None:
    """Why `mlopslab ARGV` is not a command line the learner's CLI takes."""
    top = cli_help(ctx)
    if not argv or argv[0].startswith("-"):
        return None  # `mlopslab --help`: nothing to check
    path = [argv[0]]
    if argv[0] not in top.commands:
        return f"`mlopslab {short(argv[0], 40)}` is not a command of your CLI"
    asked.add(argv[0])
    ctx.expect(len(asked) <= MAX_COMMANDS, "more than 10 distinct commands named")
    shown = cli_help(ctx, argv[0])
    if shown.commands:
        if len(argv) < 2 or argv[1] not in shown.commands:
            named = short(" ".join(argv[:2]), 50)
            return f"`mlopslab {named}` names none of {argv[0]}'s subcommands"
        path.append(argv[1])
        asked.add(" ".join(path))
        ctx.expect(len(asked) <= MAX_COMMANDS, "more than 10 distinct commands named")
        shown = cli_help(ctx, *path)
    for word in argv[len(path) :]:
        option = word.split("=", 1)[0]
        if option.startswith("--") and option not in shown.options | {"--help"}:
            return f"`mlopslab {' '.join(path)}` has no option {short(option, 40)}"
    return None


@check(
    "every SLO is measured by a command or metric your mlopslab really has",
    points=2,
    visibility="hidden",
    timeout=120,
    success="each measurement names a real command or metric",
    failure="an SLO's measurement names nothing that exists",
)
def measurements_exist(ctx: Context) -> None:
    rows = slo_rows(ctx)
    ctx.expect(bool(rows), "the SLO table has no rows")
    known = known_metrics()
    asked: set[str] = set()
    for row in rows:
        name = quote(row["indicator"])
        text = row["measured"]
        metrics = METRIC.findall(text)
        unknown = [m for m in metrics if not metric_exists(m, known)]
        if unknown:
            raise CheckFailed(f"SLO {name}: mlopslab has no metric {quote(unknown[0])}")
        commands = commands_in(text)
        for argv in commands:
            problem = command_problem(ctx, argv, asked)
            if problem is not None:
                raise CheckFailed(f"SLO {name}: {problem}")
        ctx.expect(
            bool(metrics) or any(a and not a[0].startswith("-") for a in commands),
            f"SLO {name}: the measurement names no `mlopslab ...` command "
            "and no mlopslab_ metric",
        )


@check(
    "the failure modes cover data drift, a dependency outage and a bad release",
    points=1,
    visibility="hidden",
    timeout=30,
    success="drift, an outage and a bad release are all planned for",
    failure="a failure every ML service meets is not in the table",
)
def failures_covered(ctx: Context) -> None:
    rows = failure_rows(ctx)
    said = [f"{r['failure']} {r['impact']}" for r in rows]
    ctx.expect(any(DRIFT.search(t) for t in said), "no data drift (or shift)")
    ctx.expect(
        any(DEPENDENCY.search(t) and OUTAGE.search(t) for t in said),
        "no outage of a dependency (a store, the registry, the network...)",
    )
    ctx.expect(
        any(RELEASE.search(t) for t in said), "no bad model release (a regression)"
    )


@check(
    "the SLO numbers hold together",
    points=1,
    visibility="hidden",
    timeout=30,
    success="an availability SLO below 100%, percentages within 0-100, windows in time",
    failure="the SLO numbers do not hold together",
)
def numbers_consistent(ctx: Context) -> None:
    rows = slo_rows(ctx)
    available = [r for r in rows if AVAILABILITY.search(r["indicator"])]
    ctx.expect(bool(available), "no availability (success-rate) SLO")
    for row in rows:
        name = quote(row["indicator"])
        for value in PERCENT.findall(row["objective"]):
            ctx.expect(0 < float(value) <= 100, f"SLO {name}: {value}% is not a share")
        ctx.expect(
            DURATION.search(row["window"]) is not None,
            f"SLO {name}: window {quote(row['window'])} is not a length of time",
        )
    for row in available:
        shares = [float(v) for v in PERCENT.findall(row["objective"])]
        ctx.expect(bool(shares), f"SLO {quote(row['indicator'])}: not in percent")
        ctx.expect(
            all(share < 100 for share in shares),
            f"SLO {quote(row['indicator'])}: 100% leaves no error budget",
        )
