"""Assignment 8, hidden checks: run only by `mlopslab course grade`.

They add a third server to the public session (after its two, on the same
tracking server): three workers, set through the environment rather than
`--workers`, and routes and statuses the public checks never try.
"""

from __future__ import annotations

import json

from mlopslab.course.grading import Context, check

from ..assignment.checks import (
    HIDDEN,
    PREDICT,
    TIMEOUT,
    Answer,
    all_ok,
    answers,
    health_matches,
    worker,
)

ROUTES = {  # step: (method, path, body, the status it must answer)
    "nowhere": ("GET", "/no/such/route", None, 404),
    "wrong-method": ("GET", "/predict", None, 405),
    "ready": ("GET", "/ready", None, 200),
    "model": ("GET", "/model", None, 200),
    "reload": ("POST", "/admin/reload", {}, 403),
    "labels": ("POST", "/labels", {"labels": "none"}, 422),
    "not-a-batch": ("POST", "/predict", [1, 2], 422),
}
THREE_WORKERS = [
    {"name": "predict", "method": "POST", "path": "/predict", "body": PREDICT,
     "count": 40, "parallel": 8, "distinct": 3, "rounds": 8},
    {"name": "health", "method": "GET", "path": "/health", "count": 60, "parallel": 12},
    *({"name": name, "method": method, "path": path, "body": body, "count": 3,
       "parallel": 3} for name, (method, path, body, _) in ROUTES.items()),
]  # fmt: skip
HIDDEN.append(
    "MLOPSLAB_SERVE__WORKERS=3 workers=3 serving serve-3 8003\n"
    f"hit 8003 '{json.dumps(THREE_WORKERS)}' | report three\n"
)


def three(ctx: Context, step: str) -> list[Answer]:
    return answers(ctx, "three", step)


@check(
    "three workers (MLOPSLAB_SERVE__WORKERS=3) show three X-Worker-Id values",
    points=2,
    visibility="hidden",
    timeout=TIMEOUT,
    success="every /predict answered 200, from 3 distinct X-Worker-Id",
    failure="three workers cannot be told apart",
)
def three_workers(ctx: Context) -> None:
    found = three(ctx, "predict")
    all_ok(ctx, found, "POST /predict")
    ids = {worker(ctx, a, "POST /predict") for a in found}
    ctx.expect(len(ids) == 3, f"{len(found)} requests saw {len(ids)} ids")


@check(
    "an id per process: never more ids than workers, /health always its own",
    points=2,
    visibility="hidden",
    timeout=TIMEOUT,
    success="at most 3 ids over every answer of 3 workers; /health matches its header",
    failure="the ids are not one per worker process",
)
def stable_ids(ctx: Context) -> None:
    seen = health_matches(ctx, three(ctx, "health"))
    for name in ("predict", *ROUTES):
        seen |= {i for a in three(ctx, name) for i in a[1]}
    ctx.expect(len(seen) <= 3, f"3 workers answered with {len(seen)} ids")


@check(
    "404, 405, 403, 422s, /ready and /model carry the worker's id",
    points=2,
    visibility="hidden",
    timeout=TIMEOUT,
    success="every route and status tried carries one X-Worker-Id of a worker",
    failure="some answers do not name their worker",
)
def every_route(ctx: Context) -> None:
    workers = {worker(ctx, a, "GET /health") for a in three(ctx, "health")}
    workers |= {worker(ctx, a, "POST /predict") for a in three(ctx, "predict")}
    for name, (method, path, _, status) in ROUTES.items():
        for answer in three(ctx, name):
            what = f"{method} {path}"
            ctx.expect(answer[0] == status, f"{what} answered {answer[0]}")
            ctx.expect(worker(ctx, answer, what) in workers, f"{what}: a new id")
