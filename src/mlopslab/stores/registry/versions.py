"""What the registry hands out, usable without importing MLflow.

A served model's process never imports MLflow (about 1.5 s): the registry runs in
a helper process (`registry_agent.py`) and sends back these plain values.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopslab.errors import RegistryError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

CHAMPION, PREVIOUS = "champion", "previous"
# The tag on a version that is the same model as the champion it was gated
# against (its value: that version): registered as a record, never promoted.
REPEATS = "repeats"
# The tag with the digest of the rows a version trained and validated on.
TRAINING_DIGEST = "training_digest"
# The tag naming the golden test set a version was tested on: "<key> v<N>".
GOLDEN = "golden_test_set"
STATUSES = ("approved", "rejected", "pending")


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    status: str
    aliases: tuple[str, ...]
    run_id: str
    created_ms: int
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""

    @classmethod
    def from_mlflow(cls, mv: ModelVersion) -> VersionInfo:
        return cls(
            name=mv.name,
            version=str(mv.version),
            status=mv.tags.get("status", "unknown"),
            aliases=tuple(sorted(mv.aliases)),
            run_id=mv.run_id or "",
            created_ms=int(mv.creation_timestamp or 0),
            tags=dict(mv.tags),
            description=mv.description or "",
        )


BASELINE_FILES = (
    "baseline/statistics.json",
    "baseline/constraints.json",
    "evaluation.json",
    "model_card.json",
)


@dataclass(frozen=True)
class Baseline:
    """What monitoring compares against, from the champion's run artifacts."""

    statistics: dict[str, Any]
    constraints: dict[str, Any]
    evaluation: dict[str, Any]
    card: dict[str, Any]


@dataclass(frozen=True)
class ModelFiles:
    """A version's scikit-learn flavor on disk, as its MLmodel file describes it."""

    info: VersionInfo
    directory: Path
    pickled_model: str  # file name inside `directory`
    serialization_format: str  # "cloudpickle" or "pickle" (skops needs MLflow)
    inputs: list[dict[str, Any]]  # signature.inputs.to_dict()
    card: dict[str, Any] = field(default_factory=dict)


def files_to_json(files: ModelFiles) -> dict[str, Any]:
    """ModelFiles as JSON, to hand to worker processes."""
    return {
        "info": dataclasses.asdict(files.info),
        "directory": str(files.directory),
        "pickled_model": files.pickled_model,
        "serialization_format": files.serialization_format,
        "inputs": files.inputs,
        "card": files.card,
    }


def files_from_json(data: dict[str, Any]) -> ModelFiles:
    info = dict(data["info"])
    info["aliases"] = tuple(info["aliases"])
    return ModelFiles(
        info=VersionInfo(**info),
        directory=Path(data["directory"]),
        pickled_model=data["pickled_model"],
        serialization_format=data["serialization_format"],
        inputs=data["inputs"],
        card=data["card"],
    )


def load_pipeline(files: ModelFiles) -> Any:
    """Unpickle the pipeline the way MLflow's sklearn flavor does for these formats.

    This is the whole of `mlflow.sklearn.load_model` for models with no code
    paths in (cloud)pickle format, which is what `mlopslab run` logs.
    """
    path = files.directory / files.pickled_model
    try:
        with path.open("rb") as handle:
            if files.serialization_format == "cloudpickle":
                import cloudpickle

                return cloudpickle.load(handle)
            if files.serialization_format == "pickle":
                return pickle.load(handle)
    except ImportError as exc:  # a PyTorch model where torch is not installed
        raise RegistryError(
            f"cannot load {files.info.name} v{files.info.version}: it needs the "
            f"Python package '{exc.name}', which is not installed here",
            "install it (for torch: pip install 'mlopslab[torch]', in this "
            "repository `make setup-test`)",
        ) from exc
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        raise RegistryError(
            f"cannot load {files.info.name} v{files.info.version}: {exc}",
            "check that its artifacts are still in the workspace",
        ) from exc
    raise RegistryError(
        f"{files.info.name} v{files.info.version} is saved as "
        f"'{files.serialization_format}', which mlopslab does not load",
        "log it in cloudpickle format, as `mlopslab run` does",
    )
