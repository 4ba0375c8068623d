"""Assignment 8, public checks: `mlopslab course check 8-scaling` runs these.

One sandboxed session, in a fresh folder `team/`, starts an MLflow tracking
server on the sandbox's own loopback, trains and lists the registry against it,
then serves the shared champion with two worker processes and with one (each
server keeps running until the session ends: the sandbox stops them). A small
HTTP client of the grader's own (`python -I`, standard library only) sends the
requests and reports each answer as it saw it: status, `X-Worker-Id` headers and
body. The checks read those reports, and the tracking server's own database.
"""

from __future__ import annotations

import json
import os
from typing import Any

from mlopslab.course.grading import CheckFailed, Context, Session, check

ROW = {
    "island": "Biscoe",
    "bill_length_mm": 45.1,
    "bill_depth_mm": 14.5,
    "flipper_length_mm": 215,
    "body_mass_g": 5000,
    "sex": "female",
    "year": 2008,
}
PREDICT = {"rows": [ROW]}
UNKNOWN = {"rows": [{**ROW, "colour": "grey"}]}  # an unknown field: a 422

# The grader's HTTP client: `hit PORT PLAN` sends each step of PLAN (JSON) and
# prints {step: [[status, [X-Worker-Id values], body], ...]}. A step sends
# `count` requests, `parallel` at a time, each on a new connection; with
# `distinct`, it sends up to `rounds` such batches until that many different
# X-Worker-Id values have answered (the kernel, not the server, picks a worker).
CLIENT = r"""
import concurrent.futures, http.client, json, sys

port, plan = int(sys.argv[1]), json.loads(sys.argv[2])


def one(method, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        data = None if body is None else json.dumps(body)
        kind = {} if body is None else {"content-type": "application/json"}
        conn.request(method, path, body=data, headers=kind)
        answer = conn.getresponse()
        ids = [v for k, v in answer.getheaders() if k.lower() == "x-worker-id"]
        text = answer.read(20000).decode("utf-8", "replace")
        return [answer.status, ids, text]
    except (OSError, http.client.HTTPException) as exc:
        return [0, [], repr(exc)[:200]]
    finally:
        conn.close()


found = {}
for step in plan:
    method, path, body = step["method"], step["path"], step.get("body")
    answers = []
    count, parallel = step.get("count", 1), step.get("parallel", 1)
    for _ in range(step.get("rounds", 1)):
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            batch = [pool.submit(one, method, path, body) for _ in range(count)]
            answers += [b.result() for b in batch]
        if len({i for a in answers for i in a[1]}) >= step.get("distinct", 0):
            break
    found[step["name"]] = answers
print(json.dumps(found))
"""

TWO_WORKERS = [
    {"name": "predict", "method": "POST", "path": "/predict", "body": PREDICT,
     "count": 40, "parallel": 8, "distinct": 2, "rounds": 5},
    {"name": "health", "method": "GET", "path": "/health", "count": 24, "parallel": 8},
    {"name": "metrics", "method": "GET", "path": "/metrics"},
    {"name": "unknown", "method": "POST", "path": "/predict", "body": UNKNOWN},
    {"name": "ready", "method": "GET", "path": "/ready"},
]  # fmt: skip
ONE_WORKER = [
    {"name": "predict", "method": "POST", "path": "/predict", "body": PREDICT,
     "count": 12, "parallel": 4},
    {"name": "health", "method": "GET", "path": "/health", "count": 12, "parallel": 4},
    {"name": "metrics", "method": "GET", "path": "/metrics"},
    {"name": "unknown", "method": "POST", "path": "/predict", "body": UNKNOWN},
]  # fmt: skip

SESSION = r"""
read -r -d '' client <<'CLIENT'
@CLIENT@
CLIENT
hit() { python -I -c "$client" "$@"; }  # the grader's own client, not the learner's
serving() {  # serving NAME PORT ARGS...: start, then wait for every worker's model
  start "$1.log" mlopslab serve --port "$2" "${@:3}"
  for _ in $(seq 600); do  # each worker logs "now serving" once it has the model
    loaded=$(grep -c 'now serving' "$1.log" 2> /dev/null)
    [ "${loaded:-0}" -ge "$workers" ] && break
    [ -e "/proc/$started" ] || return
    sleep 0.1
  done
  ready "http://127.0.0.1:$2/ready"
}
learner /dev/null mkdir team && cd team || { measure team failed; exit 0; }
start tracking.log env -u PYTHONPATH MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
  mlflow server --backend-store-uri sqlite:///shared.db \
  --default-artifact-root ./shared-artifacts --host 127.0.0.1 --port 8780 --workers 1
for _ in $(seq 900); do  # MLflow makes its tables first: 5 s, or far more when busy
  curl -sf http://127.0.0.1:8780/health > /dev/null && break
  sleep 0.1
done
export MLFLOW_TRACKING_URI=http://127.0.0.1:8780
learner run.log timeout -k 2 180 mlopslab run --trials 4
code=$?
measure run.code $code
[ $code = 0 ] || exit 0
probe registry.err timeout -k 2 30 mlopslab registry list | report registry
workers=2 serving serve-2 8002 --workers 2
hit 8002 '@TWO_WORKERS@' | report two
workers=1 serving serve-1 8001 --workers 1
hit 8001 '@ONE_WORKER@' | report one
@HIDDEN@
"""
TIMEOUT = 300  # s: the session, for the check that runs it (the others reuse it)
# Steps the hidden checks add at the end of the same session (one tracking
# server, one training run for all the checks): see instructor/checks.py.
HIDDEN: list[str] = []


def session(ctx: Context) -> Session:
    script = (
        SESSION.replace("@CLIENT@", CLIENT.strip())
        .replace("@TWO_WORKERS@", json.dumps(TWO_WORKERS))
        .replace("@ONE_WORKER@", json.dumps(ONE_WORKER))
        .replace("@HIDDEN@", "\n".join(HIDDEN))
    )
    found = ctx.session(script, timeout=TIMEOUT)
    ctx.expect(
        "team" not in found.measures,
        "could not make a fresh folder team/ (does the repository have one?)",
    )
    return found


def trained(ctx: Context) -> Session:
    """The session, once `mlopslab run` against the tracking server exited 0."""
    found = session(ctx)
    code = found.measure("run.code")
    ctx.expect(code == "0", f"`mlopslab run --trials 4` exited {code}, expected 0")
    return found


Answer = tuple[int, list[str], str]  # status, X-Worker-Id values, body


def answers(ctx: Context, report: str, step: str) -> list[Answer]:
    """What the grader's client got for `step` of the server run `report`."""
    try:
        found = json.loads(trained(ctx).measure(report))
        got = [(int(s), [str(i) for i in ids], str(b)) for s, ids, b in found[step]]
    except (ValueError, TypeError, KeyError):
        got = []
    if not got:
        raise CheckFailed(f"the `{report}` server answered nothing readable")
    return got


def worker(ctx: Context, answer: Answer, what: str) -> str:
    """The one, non-empty X-Worker-Id of `answer`."""
    status, ids, _ = answer
    ctx.expect(len(ids) == 1, f"{what} (status {status}) has {len(ids)} X-Worker-Id")
    ctx.expect(ids[0].strip() != "", f"{what} (status {status}): X-Worker-Id is empty")
    return ids[0]


def short(value: Any) -> str:
    """A learner's value for a message: quoted, escaped, bounded."""
    text = repr(value)
    return text if len(text) <= 160 else text[:160] + "..."


def body(answer: Answer) -> Any:
    try:
        return json.loads(answer[2])
    except ValueError:
        return None


def all_ok(ctx: Context, found: list[Answer], what: str) -> None:
    statuses = sorted({status for status, _, _ in found})
    ctx.expect(statuses == [200], f"{what} answered with statuses {statuses}")


def health_matches(ctx: Context, found: list[Answer]) -> set[str]:
    """Every /health answer: 200, and its body's `worker` equals its header."""
    all_ok(ctx, found, "GET /health")
    seen = set()
    for answer in found:
        header = worker(ctx, answer, "GET /health")
        shown = body(answer)
        field = shown.get("worker") if isinstance(shown, dict) else None
        ctx.expect(
            field == header,
            f"/health says worker {short(field)}, its X-Worker-Id is {short(header)}",
        )
        seen.add(header)
    return seen


@check(
    "run and registry list use the tracking server only",
    points=2,
    timeout=TIMEOUT,
    success="run exited 0, v1 is champion on the server, no local mlflow.db",
    failure="the flow does not work against the tracking server",
)
def tracking_server(ctx: Context) -> None:
    listed = trained(ctx).measure("registry")
    rows = [[c.strip() for c in line.split("│")] for line in listed.splitlines()]
    ctx.expect(
        any("penguins" in r and "1" in r and "champion" in r for r in rows),
        "`mlopslab registry list` shows no penguins v1 with the alias champion",
    )
    for part in ("team", "team/.mlopslab", "team/.mlopslab/mlflow.db"):
        ctx.expect(not (ctx.root / part).is_symlink(), f"{part} is a link")
    ctx.expect(
        not os.path.lexists(ctx.root / "team" / ".mlopslab" / "mlflow.db"),
        "team/.mlopslab/mlflow.db exists: the run used a local registry",
    )
    tables = ("model_versions", "registered_model_aliases")
    with ctx.sqlite("team/shared.db", tables) as conn:
        champion = conn.execute(
            "SELECT version FROM registered_model_aliases"
            " WHERE name = 'penguins' AND alias = 'champion'"
        ).fetchall()
    ctx.expect(champion == [(1,)], "the tracking server has no champion v1")


@check(
    "two workers: concurrent /predict requests show two X-Worker-Id values",
    points=3,
    timeout=TIMEOUT,
    success="every /predict answered 200, from at least 2 distinct X-Worker-Id",
    failure="the workers cannot be told apart",
)
def two_workers(ctx: Context) -> None:
    found = answers(ctx, "two", "predict")
    all_ok(ctx, found, "POST /predict")
    ids = {worker(ctx, a, "POST /predict") for a in found}
    ctx.expect(len(ids) >= 2, f"{len(found)} requests saw one id: {short(ids)}")


@check(
    "/health names its worker; /metrics and a 422 carry X-Worker-Id",
    points=2,
    timeout=TIMEOUT,
    success="/health's worker equals its header; /metrics and the 422 have one",
    failure="some answers do not name their worker",
)
def every_answer(ctx: Context) -> None:
    health_matches(ctx, answers(ctx, "two", "health"))
    (metrics,) = answers(ctx, "two", "metrics")
    ctx.expect(metrics[0] == 200, f"GET /metrics answered {metrics[0]}")
    worker(ctx, metrics, "GET /metrics")
    (unknown,) = answers(ctx, "two", "unknown")
    ctx.expect(unknown[0] == 422, f"an unknown field answered {unknown[0]}, not 422")
    worker(ctx, unknown, "the 422 of /predict")


@check(
    "one worker: every answer carries the same X-Worker-Id",
    points=1,
    timeout=TIMEOUT,
    success="--workers 1: one X-Worker-Id on every answer, /health's included",
    failure="one worker process shows more than one id",
)
def one_worker(ctx: Context) -> None:
    all_ok(ctx, answers(ctx, "one", "predict"), "POST /predict")
    ids = {
        worker(ctx, answer, f"{step['method']} {step['path']}")
        for step in ONE_WORKER
        for answer in answers(ctx, "one", step["name"])
    }
    ctx.expect(len(ids) == 1, f"one worker answered with {len(ids)} ids")
    ctx.expect(
        health_matches(ctx, answers(ctx, "one", "health")) == ids, "/health differs"
    )


@check(
    "/predict, /health, /ready and the 422 keep their format",
    points=1,
    timeout=TIMEOUT,
    success="the answers have the fields (and only the fields) they had",
    failure="an answer's format changed",
)
def same_format(ctx: Context) -> None:
    status, _, _ = first = answers(ctx, "two", "predict")[0]
    predicted = body(first)
    keys = {"model_name", "model_version", "request_id", "predictions"}
    ctx.expect(
        status == 200 and isinstance(predicted, dict) and set(predicted) == keys,
        f"/predict answered {status}: {short(predicted)}",
    )
    rows = predicted["predictions"]
    row = rows[0] if isinstance(rows, list) and len(rows) == 1 else None
    row_keys = {"inference_id", "prediction", "probabilities"}
    ctx.expect(
        isinstance(row, dict) and set(row) == row_keys,
        f"the predictions are {short(rows)}",
    )
    health = body(answers(ctx, "two", "health")[0])
    ctx.expect(
        isinstance(health, dict)
        and set(health) - {"worker"} == {"status"}
        and health["status"] == "ok",
        f"/health answered {short(health)}",
    )
    status, _, _ = ready = answers(ctx, "two", "ready")[0]
    shown = body(ready)
    ctx.expect(
        status == 200
        and isinstance(shown, dict)
        and set(shown) == {"ready", "model_name", "model_version"},
        f"/ready answered {status}: {short(shown)}",
    )
    status, _, _ = unknown = answers(ctx, "two", "unknown")[0]
    shown = body(unknown)
    error = shown.get("error") if isinstance(shown, dict) else None
    ctx.expect(
        status == 422 and isinstance(error, dict) and error.get("field") == "colour",
        f"an unknown field answered {status}: {short(shown)}",
    )
