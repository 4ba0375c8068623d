"""A served model: one registry version, loaded, warmed and ready to predict."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlopslab.errors import RegistryError
from mlopslab.registry import Registry, VersionInfo
from mlopslab.serving.schema import RowSchema


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]
    finite: bool = True  # False when extreme inputs overflowed the model


@dataclass
class ServedModel:
    name: str
    version: str
    pipeline: Any
    schema: RowSchema
    classes: list[str]
    card: dict[str, Any] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.time)

    def predict(self, rows: list[dict[str, Any]]) -> list[Prediction]:
        """One predict_proba call for the whole batch."""
        proba = np.asarray(self.pipeline.predict_proba(self.frame(rows)))
        best = proba.argmax(axis=1)
        finite = np.isfinite(proba).all(axis=1)
        return [
            Prediction(
                self.classes[i],
                dict(zip(self.classes, map(float, p), strict=True)),
                bool(ok),
            )
            for i, p, ok in zip(best, proba, finite, strict=True)
        ]

    def frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Validated rows as a frame: floats, and plain-object strings with NaN gaps.

        Object columns skip pandas' Arrow-backed strings, which cost more than
        the model itself on small batches; predictions are identical.
        """
        columns: dict[str, Any] = {}
        for spec in self.schema.fields:
            values = [
                np.nan if row[spec.name] is None else row[spec.name] for row in rows
            ]
            if spec.kind == "string":
                columns[spec.name] = pd.Series(values, dtype=object)
            else:
                columns[spec.name] = np.asarray(values, dtype=float)
        return pd.DataFrame(columns, copy=False)

    def warm(self) -> None:
        """Run one prediction so the first request pays no first-call costs."""
        example = self.card.get("input_example") or [self.schema.openapi_example()]
        try:
            self.predict(example[:1])
        except (ValueError, TypeError, KeyError):
            self.predict([{name: None for name in self.schema.names}])

    def summary(self) -> dict[str, Any]:
        test = self.card.get("metrics", {}).get("test", {})
        return {
            "name": self.name,
            "version": self.version,
            "classes": self.classes,
            "signature": [f.__dict__ for f in self.schema.fields],
            "card": {
                "status": self.card.get("status"),
                "family": self.card.get("model", {}).get("family"),
                "data_fingerprint": self.card.get("data", {}).get("fingerprint"),
                "data_source": self.card.get("data", {}).get("source"),
                "target": self.card.get("data", {}).get("target"),
                "test_accuracy": test.get("accuracy"),
                "test_macro_f1": test.get("macro_f1"),
                "gate": self.card.get("gate", {}).get("verdict"),
                "trained_run": self.card.get("run_id"),
            },
        }


@dataclass
class RegistrySource:
    """Models from the MLflow registry: `name` at a version number or an alias."""

    registry: Registry
    name: str
    ref: str

    def resolve(self) -> VersionInfo:
        return self.registry.version(self.name, self.ref)

    def load(self, info: VersionInfo) -> ServedModel:
        return load(self.registry, info)


def load(registry: Registry, info: VersionInfo) -> ServedModel:
    """Load a version's pipeline, signature and model card, then warm it."""
    pipeline, inputs = registry.load_version(info.name, info.version)
    served = ServedModel(
        name=info.name,
        version=info.version,
        pipeline=pipeline,
        schema=RowSchema.from_signature(inputs),
        classes=[str(c) for c in pipeline.classes_],
        card=_card(registry, info),
    )
    served.warm()
    return served


def _card(registry: Registry, info: VersionInfo) -> dict[str, Any]:
    if not info.run_id:
        return {}
    try:
        return registry.read_json(info.run_id, "model_card.json")
    except RegistryError:
        return {}  # a card is nice to show, never a reason not to serve
