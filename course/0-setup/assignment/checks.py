"""Assignment 0, public checks: `mlopslab course check 0-setup` runs these.

They read your `mlopslab.toml` and `REPRODUCING.md` themselves, ask
`mlopslab config show` what it resolves, and run one sandboxed session of
three runs into workspaces of its own (`fresh-a`, `fresh-b`: your file alone;
`fresh-c`: with a seed given as a flag and another as a variable). The session
reports each run's exit code; the checks hash the two `model.pkl` files
themselves and read each run's `config.json` and `evaluation.json`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from mlopslab.config import Config
from mlopslab.course.grading import READ_LIMIT, CheckFailed, Context, Session, check

CONFIG = "mlopslab.toml"
NOTES = "REPRODUCING.md"
TEXT_LIMIT = 64 * 2**10  # bytes: a configuration file or a page of notes
MODEL_LIMIT = 64 * 2**20  # bytes: one pickled model
RUN_SECONDS = 100  # one run; the task asks for under a minute on a laptop
# fresh-c's seeds: the flag's and the variable's, the first of each that is not
# the file's own (else the run could not show which layer won).
FLAG_SEEDS = (3, 5)
ENV_SEEDS = (11, 13)
# Each run in a workspace the grader's own shell has just seen missing; its
# exit code is measured by that shell, never read from a file.
RUN = rf"""
run() {{  # run NAME ARGS...: `mlopslab run` into fresh-NAME, its exit code measured
  name=$1; shift
  if [ -e "fresh-$name" ] || [ -L "fresh-$name" ]; then
    measure "$name.code" "was not run: fresh-$name existed before it"
    return
  fi
  learner "fresh-$name.log" timeout -k 5 {RUN_SECONDS} "$@" --home "fresh-$name"
  measure "$name.code" $?
}}
"""


# --- The learner's files, read and parsed by the grader itself ------------------


def text(ctx: Context, relative: str) -> str:
    try:
        return ctx.file(relative, limit=TEXT_LIMIT).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CheckFailed(f"{relative} is not UTF-8 text") from None


def settings(ctx: Context) -> dict[str, Any]:
    """mlopslab.toml, parsed here (never by the learner's code)."""
    source = text(ctx, CONFIG)
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise CheckFailed(f"{CONFIG} is not valid TOML: {exc}") from None
    except RecursionError:
        raise CheckFailed(f"{CONFIG} nests too deeply") from None


def chosen(ctx: Context) -> tuple[int, int, list[str]]:
    """The file's seed, tune.trials and tune.families, each set and well typed."""
    found = settings(ctx)
    tune = found.get("tune")
    tune = tune if isinstance(tune, dict) else {}
    seed, trials, families = found.get("seed"), tune.get("trials"), tune.get("families")
    for name, value in (("seed", seed), ("tune.trials", trials)):
        ctx.expect(value is not None, f"{CONFIG} does not set {name}")
        ctx.expect(
            isinstance(value, int) and not isinstance(value, bool),
            f"{name} in {CONFIG} is {value!r}, not a TOML integer",
        )
    ctx.expect(families is not None, f"{CONFIG} does not set tune.families")
    ctx.expect(
        isinstance(families, list) and all(isinstance(f, str) for f in families),
        f"tune.families in {CONFIG} is {families!r}, not a list of names",
    )
    return seed, trials, families  # type: ignore[return-value]


def file_seed(ctx: Context) -> int | None:
    try:
        seed = settings(ctx).get("seed")
    except CheckFailed:
        return None
    return seed if type(seed) is int else None


def other(candidates: tuple[int, ...], taken: int | None) -> int:
    return next(c for c in candidates if c != taken)


# Lines of a TOML file: a key being set (bare, quoted or dotted), a table header.
KEY = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
SETTING = re.compile(rf"^\s*({KEY}(?:\s*\.\s*{KEY})*)\s*=")
TABLE = re.compile(r"^\s*\[")
COMMENT = re.compile(r"^\s*#(.*)$")


def trailing_comment(line: str) -> str | None:
    """The text of the comment that ends `line`, if any (outside strings)."""
    quote = None
    escaped = False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[index + 1 :]
    return None


def explained(note: str | None) -> bool:
    return note is not None and re.search(r"[A-Za-z]{2}", note) is not None


def uncommented(source: str) -> list[str]:
    """The settings with no comment above them (or at the end of their line)."""
    missing = []
    table = ""
    above: str | None = None  # the comment on the last non-blank line, if any
    in_string = False
    for number, line in enumerate(source.splitlines(), start=1):
        if in_string:  # inside a multi-line string: no settings, no comments
            in_string = (line.count('"""') + line.count("'''")) % 2 == 0
            continue
        if not line.strip():
            continue
        comment = COMMENT.match(line)
        if comment:
            above = comment.group(1)
            continue
        setting = SETTING.match(line)
        if setting:
            key = re.sub(r"\s+", "", setting.group(1))
            name = f"{table}.{key}" if table else key
            if not (explained(above) or explained(trailing_comment(line))):
                missing.append(f"{name} (line {number})")
            in_string = (line.count('"""') + line.count("'''")) % 2 == 1
        elif TABLE.match(line):
            header = line.strip().strip("[]").split("]")[0]
            table = re.sub(r"\s+", "", header)
        above = None
    return missing


# --- The session: three runs, their exit codes measured -------------------------


def session_script(seed: int | None) -> str:
    flag, variable = other(FLAG_SEEDS, seed), other(ENV_SEEDS, seed)
    return (
        RUN
        + f"""
run a mlopslab run
run b mlopslab run
run c env MLOPSLAB_SEED={variable} mlopslab run --seed {flag}
"""
    )


def session(ctx: Context) -> Session:
    return ctx.session(session_script(file_seed(ctx)), timeout=3 * RUN_SECONDS + 30)


def exited_zero(ctx: Context, name: str, found: Session | None = None) -> None:
    code = (found or session(ctx)).measure(f"{name}.code")
    if code == "0":
        return
    if code == "124":  # timeout(1) stopped it
        said = f"did not finish within {RUN_SECONDS} s (stopped)"
    else:  # a number, or the grader's shell saying why it never ran
        said = f"exited {code}, not 0" if code.isdigit() else code
    raise CheckFailed(f"`mlopslab run --home fresh-{name}` {said}")


def registered(ctx: Context, home: str) -> set[tuple[str, str]]:
    """(model name, version) of every version the workspace's store holds."""
    with ctx.sqlite(f"{home}/mlflow.db", ("model_versions",)) as conn:
        rows = conn.execute("SELECT name, version FROM model_versions").fetchall()
    return {(str(name), str(version)) for name, version in rows}


def model_file(ctx: Context, home: str) -> str:
    """The one `artifacts/models/*/artifacts/model.pkl` of a workspace."""
    found = [
        f"{home}/artifacts/models/{folder.name}/artifacts/model.pkl"
        for folder in ctx.folders(f"{home}/artifacts/models")
    ]
    ctx.expect(bool(found), f"{home} has no artifacts/models/*/artifacts/model.pkl")
    ctx.expect(len(found) == 1, f"{home} has {len(found)} models, not 1")
    return found[0]


def sha256(path: Path) -> str:
    """The grader's own hash of a learner's file (never a hash it wrote)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def two_files(ctx: Context, first: str, second: str, limit: int) -> tuple[Path, Path]:
    """Two plain files of the copy, not one file under two names (a hard link)."""
    found = ctx.file(first, limit=limit), ctx.file(second, limit=limit)
    ctx.expect(
        not os.path.samefile(*found),
        f"{first} and {second} are one file (a link), not two runs' outputs",
    )
    return found


def run_config(ctx: Context, home: str) -> dict[str, Any]:
    found = ctx.json(f"{ctx.newest_run(home)}/config.json")
    if not isinstance(found, dict):
        raise CheckFailed(f"{home}'s config.json is not a JSON object")
    return found


def two_runs(ctx: Context) -> None:
    """fresh-a and fresh-b: exit 0, and version 1 of the same model in each."""
    exited_zero(ctx, "a")
    exited_zero(ctx, "b")
    first, second = registered(ctx, "fresh-a"), registered(ctx, "fresh-b")
    ctx.expect(
        any(version == "1" for _, version in first), "fresh-a registered no version 1"
    )
    ctx.expect(first == second, f"fresh-a registered {first}, fresh-b {second}")


# --- The checks -----------------------------------------------------------------


@check(
    "config show resolves the seed, trials and families your mlopslab.toml sets",
    points=1,
    timeout=30,
    success="config show exits 0 and shows the file's seed, tune.trials, tune.families",
    failure="config show does not show your file's settings",
)
def file_is_read(ctx: Context) -> None:
    seed, trials, families = chosen(ctx)
    shown = ctx.config()
    tune = shown.get("tune")
    tune = tune if isinstance(tune, dict) else {}
    for name, mine, resolved in (
        ("seed", seed, shown.get("seed")),
        ("tune.trials", trials, tune.get("trials")),
        ("tune.families", families, tune.get("families")),
    ):
        ctx.expect(
            resolved == mine,
            f"config show gives {name} {resolved!r}, the file {mine!r}",
        )


@check(
    "mlopslab.toml is TOML and says why for each setting",
    points=1,
    timeout=10,
    success="it parses, and a comment explains every setting",
    failure="mlopslab.toml does not document each setting",
)
def file_is_documented(ctx: Context) -> None:
    settings(ctx)
    missing = uncommented(text(ctx, CONFIG))
    ctx.expect(not missing, f"no comment above {', '.join(missing[:5])}")


@check(
    "two runs into fresh workspaces give byte-identical model.pkl files",
    points=3,
    timeout=3 * RUN_SECONDS + 45,
    success="both runs exit 0, register version 1, and the SHA-256 hashes agree",
    failure="the two runs did not rebuild the same model",
)
def same_model(ctx: Context) -> None:
    two_runs(ctx)
    models = model_file(ctx, "fresh-a"), model_file(ctx, "fresh-b")
    first, second = two_files(ctx, *models, limit=MODEL_LIMIT)
    hashes = sha256(first), sha256(second)
    ctx.expect(
        hashes[0] == hashes[1],
        f"model.pkl SHA-256 {hashes[0][:12]}... then {hashes[1][:12]}...",
    )


@check(
    "the two runs' evaluation.json files are identical",
    points=1,
    timeout=3 * RUN_SECONDS + 45,
    success="the same bytes in fresh-a and fresh-b",
    failure="the two runs did not evaluate the same way",
)
def same_evaluation(ctx: Context) -> None:
    two_runs(ctx)
    first, second = two_files(
        ctx,
        f"{ctx.newest_run('fresh-a')}/evaluation.json",
        f"{ctx.newest_run('fresh-b')}/evaluation.json",
        limit=READ_LIMIT,
    )
    ctx.expect(
        first.read_bytes() == second.read_bytes(),
        "the two evaluation.json files differ",
    )


@check(
    "each run's config.json records the seed it was given",
    points=2,
    timeout=3 * RUN_SECONDS + 45,
    success="the file's seed in the first two runs; the flag beats the variable",
    failure="a run's config.json does not record the seed that should have won",
)
def seeds_recorded(ctx: Context) -> None:
    seed = file_seed(ctx)
    flag, variable = other(FLAG_SEEDS, seed), other(ENV_SEEDS, seed)
    found = session(ctx)
    given = Config().seed if seed is None else seed  # the default, without one
    for home in ("a", "b"):
        exited_zero(ctx, home, found)
        recorded = run_config(ctx, f"fresh-{home}").get("seed")
        ctx.expect(
            recorded == given,
            f"fresh-{home}'s config.json has seed {recorded!r}, not {given}",
        )
    exited_zero(ctx, "c", found)
    recorded = run_config(ctx, "fresh-c").get("seed")
    ctx.expect(
        recorded == flag,
        f"MLOPSLAB_SEED={variable} with --seed {flag}: config.json has {recorded!r}",
    )
    shown = ctx.config(env={"MLOPSLAB_SEED": str(variable)}).get("seed")
    ctx.expect(
        shown == variable,
        f"MLOPSLAB_SEED={variable} mlopslab config show gives seed {shown!r}",
    )


@check(
    "an invalid value is still refused, with exit code 2",
    points=1,
    timeout=30,
    success="config show exits 0, and 2 with MLOPSLAB_TUNE__TRIALS=0",
    failure="the configuration no longer validates as it should",
)
def invalid_refused(ctx: Context) -> None:
    ctx.config()
    bad = ctx.mlopslab("config", "show", env={"MLOPSLAB_TUNE__TRIALS": "0"}, timeout=12)
    ctx.expect_exit(bad, 2, "MLOPSLAB_TUNE__TRIALS=0 mlopslab config show")
    ctx.expect("tune.trials" in bad.stderr, "the error does not name tune.trials")


@check(
    "REPRODUCING.md names the lock file and the run's record",
    points=1,
    timeout=10,
    success="REPRODUCING.md mentions uv.lock and config.json",
    failure="REPRODUCING.md does not say how to rebuild the model",
)
def notes(ctx: Context) -> None:
    found = text(ctx, NOTES)
    for needed in ("uv.lock", "config.json"):
        ctx.expect(needed in found, f"{NOTES} does not mention {needed}")
