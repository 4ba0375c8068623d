"""Assignment 5, hidden checks: run only by `mlopslab course grade`."""

from __future__ import annotations

import json

from mlopslab.course.grading import CheckFailed, Context, Session, check

from ..assignment.checks import captured, expect_confidence, response, session

# Rows and a rate the public checks never use.
ROWS = (
    '{"island": "Torgersen", "bill_length_mm": 38.2, "bill_depth_mm": 19.9,'
    ' "flipper_length_mm": 188, "body_mass_g": 3650, "sex": "male", "year": 2009},'
    ' {"island": "Dream", "bill_length_mm": 50.8, "bill_depth_mm": 18.9,'
    ' "flipper_length_mm": 199, "body_mass_g": 3900, "sex": "male", "year": 2008},'
    ' {"island": "Biscoe", "bill_length_mm": 47.6, "bill_depth_mm": 14.1,'
    ' "flipper_length_mm": 219, "body_mass_g": 5300, "sex": "female", "year": 2007}'
)
ONE = ROWS.split("},")[0] + "}"
HALF = rf"""
learner /dev/null rm -f ws/capture.db ws/capture.db-wal ws/capture.db-shm
start serve-half.log mlopslab serve --home ws --port 8000 --capture-rate 0.5
server=$started
ready http://127.0.0.1:8000/ready
curl -s -w '\n%{{http_code}}' -X POST -H 'content-type: application/json' \
  -d '{{"rows": [{ROWS}]}}' http://127.0.0.1:8000/predict | report three
for _ in $(seq 400); do
  curl -s -o /dev/null -X POST -H 'content-type: application/json' \
    -d '{{"rows": [{ONE}]}}' http://127.0.0.1:8000/predict
done
stop "$server"
learner /dev/null cp ws/capture.db capture-half.db
"""


def half(ctx: Context) -> Session:
    """A third server, at --capture-rate 0.5, sent rows never sent before."""
    session(ctx)
    return ctx.session(HALF, step="half")


@check(
    "an invalid row in a batch still gets its own error, naming the field and the row",
    points=1,
    visibility="hidden",
    timeout=240,
    success='bill_length_mm "long" in row 1: row 0 predicted (200), row 1 an error'
    " naming the field and row 1",
    failure="validation errors changed",
)
def validation_kept(ctx: Context) -> None:
    """The two-row request [ROW, BAD]: the valid row is answered, the bad one
    gets `{"error": {row, field, ...}}` in its place (serve.on_bad_row)."""
    session(ctx)
    status, body = response(ctx, "bad")
    ctx.expect(status == 200, f"answered {status}, not 200 (row 0 is valid)")
    rows = body.get("predictions") if isinstance(body, dict) else None
    ctx.expect(
        isinstance(rows, list) and len(rows) == 2,
        f"predictions is not a list of 2 entries: {rows!r:.200}",
    )
    assert isinstance(rows, list)
    first, second = rows
    ctx.expect(
        isinstance(first, dict) and "prediction" in first and "error" not in first,
        f"row 0 was not predicted: {first!r:.200}",
    )
    error = second.get("error") if isinstance(second, dict) else None
    ctx.expect(
        isinstance(error, dict) and "prediction" not in second,
        f"row 1 is not an error entry: {second!r:.200}",
    )
    assert isinstance(error, dict)
    ctx.expect(error.get("field") == "bill_length_mm", f"field {error.get('field')!r}")
    ctx.expect(error.get("row") == 1, f"row {error.get('row')!r}, not 1")


@check(
    "/invocations keeps MLflow's response shape",
    points=1,
    visibility="hidden",
    timeout=240,
    success='/invocations answers {"predictions": [...]} and nothing more',
    failure="/invocations' response changed",
)
def invocations_kept(ctx: Context) -> None:
    session(ctx)
    status, body = response(ctx, "invocations")
    ctx.expect(status == 200, f"answered {status}")
    ctx.expect(isinstance(body, dict) and set(body) == {"predictions"}, f"keys {body}")


@check(
    "the OpenAPI document describes confidence as a number",
    points=2,
    visibility="hidden",
    timeout=240,
    success="the predicted row's schema has confidence: number",
    failure="/openapi.json does not describe the new field",
)
def documented(ctx: Context) -> None:
    session(ctx)
    try:
        document = json.loads(session(ctx).measure("openapi"))
    except ValueError:
        raise CheckFailed("/openapi.json is not JSON") from None
    schemas = document.get("components", {}).get("schemas", {})
    rows = [s for s in schemas.values() if "probabilities" in s.get("properties", {})]
    ctx.expect(bool(rows), "no schema for a predicted row")
    field = rows[0]["properties"].get("confidence", {})
    ctx.expect(field.get("type") == "number", f"confidence is described as {field}")


@check(
    "rows never sent before get the right confidence too",
    points=1,
    visibility="hidden",
    timeout=240,
    success="a three-row /predict: each confidence is its row's top probability",
    failure="the confidence is not computed from each row",
)
def confidence_elsewhere(ctx: Context) -> None:
    status, body = response(ctx, "three", half(ctx))
    expect_confidence(ctx, status, body, 3)


@check(
    "--capture-rate 0.5 captures about half of the requests",
    points=1,
    visibility="hidden",
    timeout=240,
    success="between 140 and 260 of 400 (and the three-row request) captured",
    failure="capture does not follow the rate it is given",
)
def half_rate(ctx: Context) -> None:
    half(ctx)
    count = captured(ctx, "half")
    ctx.expect(140 <= count <= 263, f"{count} rows captured at --capture-rate 0.5")
