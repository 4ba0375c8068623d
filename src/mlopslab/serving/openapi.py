"""The OpenAPI document, with /predict rows described by the served signature
(and, for a model trained on images, its images: serving/images.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mlopslab.serving.images import openapi_body, openapi_examples
from mlopslab.serving.runtime import Runtime


def model_aware_openapi(app: FastAPI, runtime: Runtime) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, with /predict rows described by the served signature."""
    cache: dict[str | None, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        model = runtime.model
        version = model.version if model else None
        if version not in cache:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            if model is not None:
                body = document["paths"]["/predict"]["post"]["requestBody"]
                content = body["content"]["application/json"]
                rows = content["schema"]["properties"]["rows"]
                rows["items"] = model.schema.json_schema()
                rows["maxItems"] = runtime.cfg.max_batch_rows
                if model.image is not None:  # rows or images
                    limit = runtime.cfg.max_batch_rows
                    content["schema"] = openapi_body(model.image, rows, limit)
                    content["examples"] = openapi_examples(model.image)
            cache.clear()
            cache[version] = document
        return cache[version]

    return openapi
