"""Assignment 5, public checks: `mlopslab course check 5-serving` runs these.

One sandboxed session trains, then serves twice on the sandbox's own loopback:
with your repository's configuration (probes, then 400 single-row requests)
and with `--capture-rate 1.0` (400 requests). The session reports each response
as its own curl saw it; the checks read those and the capture stores.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mlopslab.course.grading import CheckFailed, Context, Session, check

ROW = (
    '{"island": "Biscoe", "bill_length_mm": 45.1, "bill_depth_mm": 14.5,'
    ' "flipper_length_mm": 215, "body_mass_g": 5000, "sex": "female", "year": 2008}'
)
OTHER = ROW.replace("Biscoe", "Dream").replace("45.1", "39.5")
BAD = OTHER.replace("39.5", '"long"')
SPLIT = (
    '{"dataframe_split": {"columns": ["island", "bill_length_mm", "bill_depth_mm",'
    ' "flipper_length_mm", "body_mass_g", "sex", "year"],'
    ' "data": [["Biscoe", 45.1, 14.5, 215, 5000, "female", 2008]]}}'
)
SESSION = rf"""
learner run.log mlopslab run --trials 4 --home ws || {{ measure run failed; exit 0; }}
post() {{  # post NAME PATH BODY: the body, then the status code on its own line
  curl -s -w '\n%{{http_code}}' -X POST -H 'content-type: application/json' \
    -d "$3" "http://127.0.0.1:8000$2" | report "$1"
}}
serve() {{  # serve NAME ARGS...: start, probe when NAME is default, 400 rows, stop
  learner /dev/null rm -f ws/capture.db ws/capture.db-wal ws/capture.db-shm
  start "serve-$1.log" mlopslab serve --home ws --port 8000 "${{@:2}}"
  ready http://127.0.0.1:8000/ready
  if [ "$1" = default ]; then
    post two /predict '{{"rows": [{ROW}, {OTHER}]}}'
    post bad /predict '{{"rows": [{ROW}, {BAD}]}}'
    post invocations /invocations '{SPLIT}'
    curl -s http://127.0.0.1:8000/openapi.json | report openapi
  fi
  for _ in $(seq 400); do
    curl -s -o /dev/null -X POST -H 'content-type: application/json' \
      -d '{{"rows": [{ROW}]}}' http://127.0.0.1:8000/predict
  done
  stop "$started"
  learner /dev/null cp ws/capture.db "capture-$1.db"
}}
serve default
serve full --capture-rate 1.0
"""


def session(ctx: Context) -> Session:
    found = ctx.session(SESSION)
    ctx.expect("run" not in found.measures, "`mlopslab run` failed")
    return found


def response(ctx: Context, name: str, found: Session | None = None) -> tuple[int, Any]:
    """A request's status code and JSON body, as the session's curl saw them."""
    body, _, status = (found or session(ctx)).measure(name).rpartition("\n")
    try:
        return int(status), json.loads(body)
    except ValueError:
        raise CheckFailed(f"the `{name}` request got no JSON answer") from None


def expect_confidence(ctx: Context, status: int, body: Any, count: int) -> None:
    """`count` predicted rows, each with the probability of its class as confidence."""
    ctx.expect(status == 200, f"/predict answered {status}")
    rows = body.get("predictions") if isinstance(body, dict) else None
    ctx.expect(isinstance(rows, list) and len(rows) == count, f"not {count} rows")
    assert isinstance(rows, list)
    for index, row in enumerate(rows):
        value, probabilities = row.get("confidence"), row.get("probabilities", {})
        ctx.expect(
            isinstance(value, float | int), f"row {index}: no numeric confidence"
        )
        top = max(probabilities.values())
        ctx.expect(abs(value - top) <= 1e-9, f"row {index}: {value} is not {top}")
        chosen = probabilities.get(row.get("prediction"))
        ctx.expect(chosen is not None and abs(value - chosen) <= 1e-9, f"row {index}")


def captured(ctx: Context, name: str) -> int:
    with ctx.sqlite(f"capture-{name}.db", ("captures",)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0])


def own_rate(ctx: Context) -> float:
    """This student's capture rate (assignment.yaml's variant)."""
    return float(str(ctx.variant["capture_rate"]))


def expected_range(rate: float, requests: int = 400) -> tuple[int, int]:
    """Captured rows a sampler at `rate` gives, within five standard deviations."""
    spread = 5 * math.sqrt(requests * rate * (1 - rate))
    return math.floor(requests * rate - spread), math.ceil(requests * rate + spread)


@check(
    "the repository's mlopslab.toml sets serve.capture_rate to your rate",
    points=1,
    timeout=30,
    success="config show reports your capture_rate under serve",
    failure="the capture rate is not configured",
)
def configured_rate(ctx: Context) -> None:
    rate = ctx.config().get("serve", {}).get("capture_rate")
    ctx.expect(rate == own_rate(ctx), f"serve.capture_rate is {rate!r}")


@check(
    "every predicted row has a confidence: the predicted class's probability",
    points=3,
    timeout=240,
    success="a two-row /predict: confidence is the highest probability of each row",
    failure="the confidence field is missing or wrong",
)
def confidence(ctx: Context) -> None:
    status, body = response(ctx, "two")
    expect_confidence(ctx, status, body, 2)


@check(
    "your share of requests is captured by default; all with --capture-rate 1.0",
    points=2,
    timeout=240,
    success="your rate's share of 400 by default, 400 of 400 at rate 1.0",
    failure="capture does not follow the configured rate",
)
def sampled_capture(ctx: Context) -> None:
    session(ctx)
    default = captured(ctx, "default")
    low, high = expected_range(own_rate(ctx))
    ctx.expect(
        low <= default <= high,
        f"{default} rows captured by default, not {low} to {high}",
    )
    full = captured(ctx, "full")
    ctx.expect(full == 400, f"{full} of 400 rows captured at --capture-rate 1.0")
