"""Assignment 5, hidden checks: run only by `mlopslab course grade`."""

from __future__ import annotations

import json

from mlopslab.course.grading import CheckFailed, Context, check

from ..assignment.checks import response, session


@check(
    "invalid rows still get the same 422, naming the field and the row",
    points=1,
    visibility="hidden",
    timeout=240,
    success='bill_length_mm "long" in row 1: 422 naming the field and row 1',
    failure="validation errors changed",
)
def validation_kept(ctx: Context) -> None:
    session(ctx)
    status, body = response(ctx, "bad")
    ctx.expect(status == 422, f"answered {status}, not 422")
    error = body.get("error", {}) if isinstance(body, dict) else {}
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
