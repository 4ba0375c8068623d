"""A served model: one registry version, loaded, warmed and ready to predict."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlopslab.serving.images import ImageInput, image_input
from mlopslab.serving.schema import RowSchema
from mlopslab.serving.snapshot import save_snapshot
from mlopslab.stores.registry.agent import RegistryAgent, fetch_model, resolve_version
from mlopslab.stores.registry.versions import ModelFiles, VersionInfo, load_pipeline

# Why a row that passed validation is refused after scoring.
NOT_FINITE = (
    "values are outside the range the model can score "
    "(its probabilities are not finite)"
)
UNSCORABLE = "the model cannot score this row"


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

    @cached_property
    def image(self) -> ImageInput | None:
        """How this model takes images (serving/images.py); None: rows only."""
        return image_input(self.card, self.schema)

    def predict(self, rows: list[dict[str, Any]]) -> list[Prediction]:
        """One predict_proba call for the whole batch.

        Extreme inputs overflow the model's arithmetic; such rows come back
        with `finite=False` (a 4xx for the caller), so numpy's overflow and
        invalid-value warnings are silenced here rather than logged.
        """
        proba = self.probabilities(self.frame(rows))
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

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        """The pipeline's predict_proba on a frame `frame` or batch.py made."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return np.asarray(self.pipeline.predict_proba(frame))

    def frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Validated rows as a frame: floats, datetimes, and plain-object strings
        and booleans, with NaN gaps (a null is a gap the pipeline's imputer fills,
        as it filled training's: None would be a category of its own).

        Object columns skip pandas' Arrow-backed strings, which cost more than
        the model itself on small batches; predictions are identical.
        """
        columns: dict[str, Any] = {}
        for spec in self.schema.fields:
            values = [
                np.nan if row[spec.name] is None else row[spec.name] for row in rows
            ]
            if spec.kind in ("string", "boolean"):
                # Booleans as Python's True and False in an object column, as
                # training fed them (data.py): a category to the pipeline.
                columns[spec.name] = pd.Series(values, dtype=object)
            elif spec.kind == "datetime":
                # ISO 8601 text (schema.py) as MLflow's loader makes it.
                parsed = pd.to_datetime(
                    pd.Series(values, dtype=object), format="ISO8601"
                )
                columns[spec.name] = parsed.astype("datetime64[ns]")
            else:
                columns[spec.name] = np.asarray(values, dtype=float)
        return pd.DataFrame(columns, copy=False)

    def with_strict_nulls(self, strict: bool) -> ServedModel:
        """This model under `serve.strict_nulls` (schema.py): refuse null
        where training had no gaps, though the pipeline would impute it."""
        if strict == self.schema.strict_nulls:
            return self
        return replace(self, schema=self.schema.with_strict_nulls(strict))

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
            # Each field's kind, `required` (no gaps in training) and
            # `nullable` (this server accepts null there).
            "signature": self.schema.describe(),
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
                # Where `simulate traffic` finds rows no model trained on.
                "golden": self.card.get("data", {}).get("golden"),
                "training": self.card.get("data", {}).get("training"),
                # Height, width and pixel range when the model takes images.
                "image": self.image.image.to_dict() if self.image else None,
            },
        }


def imputed_columns(pipeline: Any) -> frozenset[str] | None:
    """The columns whose gaps the model fills: those its preprocessing (a
    scikit-learn ColumnTransformer, as preprocess.py and pixels.py build it)
    sends through an imputer (first, or after a step that turns a timestamp
    into its numeric parts). None when there is no such step to read.
    """
    transformer = _column_transformer(pipeline)
    if transformer is None:
        return None
    filled: set[str] = set()
    for _, step, columns in transformer.transformers_:
        if isinstance(step, str):  # "drop" or "passthrough"
            continue
        steps = [s for _, s in getattr(step, "steps", [("", step)])]
        if any(type(s).__module__.startswith("sklearn.impute") for s in steps):
            filled.update(str(column) for column in columns)
    return frozenset(filled)


def _column_transformer(model: Any) -> Any:
    """The fitted ColumnTransformer at the front of `model`, through a Pipeline
    or a CalibratedClassifierCV (calibration.py); None when there is none."""
    for _ in range(6):
        if model is None or hasattr(model, "transformers_"):
            return model
        steps = getattr(model, "steps", None)
        calibrated = getattr(model, "calibrated_classifiers_", None)
        if steps:
            model = steps[0][1]
        elif calibrated:
            model = getattr(calibrated[0], "estimator", None)
        else:
            model = getattr(model, "estimator", None)
    return None


def preload() -> None:
    """Import scikit-learn's heavy core now, while the registry agent starts."""
    import sklearn.compose
    import sklearn.pipeline  # noqa: F401


def served_model(files: ModelFiles, strict_nulls: bool = False) -> ServedModel:
    """A version's pipeline, signature and card, loaded and warmed."""
    pipeline = load_pipeline(files)
    imputed = imputed_columns(pipeline)
    served = ServedModel(
        name=files.info.name,
        version=files.info.version,
        pipeline=pipeline,
        schema=RowSchema.from_signature(
            files.inputs, imputed if imputed is not None else (), strict_nulls
        ),
        classes=[str(c) for c in pipeline.classes_],
        card=files.card,
    )
    served.warm()
    return served


@dataclass
class AgentSource:
    """Models from the registry, fetched by the agent: `name` at a version or alias."""

    agent: RegistryAgent
    name: str
    ref: str
    # Files `mlopslab serve` fetched before starting the server: the first load
    # uses them, so no worker waits for its own agent to start. Whoever fetched
    # them removes them (`owns_prefetched`).
    prefetched: ModelFiles | None = None
    owns_prefetched: bool = False
    # Prefetched files from an earlier start (serving/snapshot.py): serve them,
    # then ask the registry at once. `snapshot` is where fetched models are kept.
    unconfirmed: bool = False
    snapshot: Path | None = None

    def resolve(self) -> VersionInfo:
        if self.prefetched is not None:
            return self.prefetched.info
        return self.agent.call(resolve_version, self.name, self.ref)

    def load(self, info: VersionInfo) -> ServedModel:
        prefetched, self.prefetched = self.prefetched, None
        if prefetched is not None and prefetched.info.version == info.version:
            files, own = prefetched, self.owns_prefetched
        else:
            if prefetched is not None and self.owns_prefetched:
                shutil.rmtree(prefetched.directory, ignore_errors=True)
            files, own = self.agent.call(fetch_model, info), True
        try:
            served = served_model(files)
            if own and self.snapshot is not None:
                save_snapshot(self.snapshot, files)
            return served
        finally:
            if own:
                shutil.rmtree(files.directory, ignore_errors=True)

    def close(self) -> None:
        self.agent.close()
