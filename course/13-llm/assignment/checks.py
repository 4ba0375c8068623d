"""Assignment 13, public checks: `mlopslab course check 13-llm` runs these.

Each check drives your copy's `mlopslab assistant build` in a sandbox, on a
small course the checks write (two lessons, three glossary terms, six golden
questions), then reads its output and the MLflow store it left behind. The
three builds share one workspace, in order: the built-in prompt, a prompt that
adds a cited claim of its own, a prompt that keeps three sentences.
"""

from __future__ import annotations

import re

from mlopslab.course.grading import Context, check
from mlopslab.course.sandbox import Outcome

HOME = "ws-assistant"
MODEL = "course-assistant"
BUILD = ("assistant", "build", "--home", HOME, "--fail-on-reject")
# A template may add words; a grounded assistant must not let them pass.
PLANTED = (
    "template: |-\n"
    "  {{answer}}\n"
    "  Every model in this course is perfectly calibrated. [glossary#champion]\n"
    "\n"
    "  Sources: {{sources}}\n"
)
LONGER = "template: |-\n  {{answer}}\n\n  Sources: {{sources}}\nsentences: 3\n"
# The checks build on a small course of their own, not on your copy's lessons:
# the same inputs for every submission, and a build in seconds.
COURSE = "checks-course"
COURSE_FILES = {
    "course.yaml": "title: checks\nmodules:\n  - id: 1-data\n  - id: 3-evaluation\n",
    "1-data/lesson.md": (
        "---\nid: 1-data\ntitle: Data\n---\n\n# Data\n\n## Why this matters\n\n"
        "Every model learns from rows someone collected. Bad rows make a bad model.\n"
        "\n## Principles\n\n"
        "- A stratified split keeps each class's share the same in every part, so a\n"
        "  rare class cannot vanish from the test set.\n"
        "- Data leakage lets information about the test rows reach training, and\n"
        "  the scores then look better than they are.\n"
    ),
    "3-evaluation/lesson.md": (
        "---\nid: 3-evaluation\ntitle: Evaluation\n---\n\n# Evaluation\n\n"
        "## Principles\n\nThe McNemar test looks only at the rows where one model\n"
        "is right and the other wrong. A rejection by the gate is a result, not a\n"
        "crash: the run exits 3 with --fail-on-reject.\n"
    ),
    "glossary.yaml": (
        "terms:\n"
        "  - term: data drift\n"
        "    definition: A change in the distribution of a model's input features.\n"
        "  - term: golden test set\n"
        "    definition: A test set frozen once and reused, so that every later run\n"
        "      is scored on the same rows.\n"
        "  - term: champion\n"
        "    definition: The model version currently approved for production.\n"
    ),
    "golden.yaml": (
        "questions:\n"
        "  - id: drift\n"
        "    question: What is data drift?\n"
        "    sources: [glossary#data-drift]\n"
        "    keywords: [distribution]\n"
        "  - id: golden\n"
        "    question: What is a golden test set?\n"
        "    sources: [glossary#golden-test-set]\n"
        "    keywords: [frozen, same rows]\n"
        "  - id: stratified\n"
        "    question: Why use a stratified split?\n"
        "    sources: [1-data#principles]\n"
        "    keywords: [share]\n"
        "  - id: mcnemar\n"
        "    question: Which rows does the McNemar test look at?\n"
        "    sources: [3-evaluation#principles]\n"
        "    keywords: [right, wrong]\n"
        "  - id: bread\n"
        "    question: How long should sourdough bread proof?\n"
        "    out_of_scope: true\n"
        "  - id: capital\n"
        "    question: What is the capital of Australia?\n"
        "    out_of_scope: true\n"
    ),
}
ON_COURSE = ("--course", COURSE, "--golden", f"{COURSE}/golden.yaml")


def write_files(ctx: Context, files: dict[str, str]) -> None:
    """Write the grader's input files into the copy (never read back as results)."""
    script = "".join(
        f"mkdir -p \"$(dirname '{path}')\"\ncat > '{path}' <<'MLOPSLAB_EOF'\n"
        f"{text}MLOPSLAB_EOF\n"
        for path, text in files.items()
    )
    outcome = ctx.shell(script, timeout=20)
    ctx.expect_exit(outcome, 0, "writing the checks' input files")


def base_build(ctx: Context) -> Outcome:
    def run() -> Outcome:
        write_files(
            ctx, {f"{COURSE}/{name}": text for name, text in COURSE_FILES.items()}
        )
        return ctx.mlopslab(*BUILD, *ON_COURSE, timeout=180)

    return ctx.step("base", run)


def planted_build(ctx: Context) -> Outcome:
    def run() -> Outcome:
        base_build(ctx)
        write_files(ctx, {"planted-prompt.yaml": PLANTED})
        prompt = ("--prompt", "planted-prompt.yaml")
        return ctx.mlopslab(*BUILD, *ON_COURSE, *prompt, timeout=180)

    return ctx.step("planted", run)


def longer_build(ctx: Context) -> Outcome:
    def run() -> Outcome:
        planted_build(ctx)
        write_files(ctx, {"longer-prompt.yaml": LONGER})
        prompt = ("--prompt", "longer-prompt.yaml")
        return ctx.mlopslab(*BUILD, *ON_COURSE, *prompt, timeout=180)

    return ctx.step("longer", run)


def table_value(output: str, scorer: str) -> str | None:
    """The candidate's value of a scorer in the build's table."""
    found = re.search(rf"{scorer}\W+([01]\.\d{{3}})", output)
    return found.group(1) if found else None


@check(
    "the build scores grounded at 1.000 and approves the assistant",
    points=3,
    timeout=240,
    success="a grounded row at 1.000, approved, v1 champion",
    failure="the build does not score grounded as asked",
)
def scores_grounded(ctx: Context) -> None:
    build = base_build(ctx)
    ctx.expect_exit(build, 0, "mlopslab assistant build --fail-on-reject")
    value = table_value(build.stdout, "grounded")
    ctx.expect(value is not None, "the build's table has no grounded row")
    ctx.expect(value == "1.000", f"grounded is {value}, not 1.000")
    version = ctx.require(ctx.versions(HOME, MODEL).get("1"), "no version 1")
    ctx.expect("champion" in version["aliases"], "v1 is not the champion")


@check(
    "the run logs grounded/mean to MLflow",
    points=1,
    timeout=240,
    success="grounded/mean = 1.0 in the run's metrics",
    failure="no grounded/mean metric in the MLflow store",
)
def logs_metric(ctx: Context) -> None:
    base_build(ctx)
    with ctx.sqlite(f"{HOME}/mlflow.db", ("metrics",)) as conn:
        rows = conn.execute(
            "SELECT value FROM metrics WHERE key = 'grounded/mean'"
        ).fetchall()
    ctx.expect(bool(rows), "no run has a grounded/mean metric")
    ctx.expect(rows[0][0] == 1.0, f"grounded/mean is {rows[0][0]}, not 1.0")


@check(
    "a template that adds its own cited claim is rejected on grounded",
    points=3,
    timeout=420,
    success="rejected with exit 3, grounded among the reasons, v1 still champion",
    failure="the planted claim was not caught by grounded",
)
def rejects_planted_claim(ctx: Context) -> None:
    build = planted_build(ctx)
    ctx.expect_exit(build, 3, "assistant build --prompt planted-prompt.yaml")
    reasons = build.stdout.split("Gate: rejected", 1)[-1]
    ctx.expect("Gate: rejected" in build.stdout, "the gate did not reject")
    ctx.expect("grounded" in reasons, "no gate reason names grounded")
    versions = ctx.versions(HOME, MODEL)
    ctx.expect(versions.get("2", {}).get("tags", {}).get("status") == "rejected",
               "v2 is not registered as rejected")  # fmt: skip
    ctx.expect("champion" in versions.get("1", {}).get("aliases", set()),
               "v1 is no longer the champion")  # fmt: skip


@check(
    "a prompt that keeps three sentences is still approved against the champion",
    points=2,
    timeout=600,
    success="approved; v3 is the champion and v1 previous",
    failure="a harmless prompt change was not approved",
)
def approves_longer_answers(ctx: Context) -> None:
    build = longer_build(ctx)
    ctx.expect_exit(build, 0, "assistant build --prompt longer-prompt.yaml")
    ctx.expect("Gate: approved" in build.stdout, "the gate did not approve")
    ctx.expect(table_value(build.stdout, "grounded") == "1.000",
               "grounded is not 1.000 with three sentences")  # fmt: skip
    versions = ctx.versions(HOME, MODEL)
    ctx.expect("champion" in versions.get("3", {}).get("aliases", set()),
               "v3 is not the champion")  # fmt: skip
