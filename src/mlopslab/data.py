"""Load a dataset and infer its schema.

Sources: the built-ins `penguins` (palmerpenguins) and `digits` (scikit-learn's
bundled 8x8 digits), a folder of MNIST IDX files, or a CSV/parquet file with a
named target column. Everything is read from local files: no downloads.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlopslab.config import DataConfig
from mlopslab.errors import DataError, first_line

BUILTIN_TARGETS = {"penguins": "species", "digits": "digit", "mnist": "digit"}
IDX_DTYPES = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
ColumnKind = Literal["numeric", "categorical"]
# Parquet schema metadata in files mlopslab saves (stores/datasets.py).
LINEAGE_KEY = b"mlopslab"


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    kind: ColumnKind
    dtype: str
    missing_rate: float
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Image:
    """Rows that are images: `height` x `width` pixels in row-major columns,
    values from `low` to `high` (what serving accepts as an image)."""

    height: int
    width: int
    low: float
    high: float

    @property
    def square(self) -> bool:
        """Square and at least 4x4: what the CNN family (neural.py) takes."""
        return self.height == self.width >= 4

    def to_dict(self) -> dict[str, float]:
        return {
            "height": self.height,
            "width": self.width,
            "low": self.low,
            "high": self.high,
        }


@dataclass(frozen=True)
class Schema:
    columns: tuple[ColumnSchema, ...]
    target: str
    classes: tuple[str, ...]
    image: Image | None = None  # digits and IDX folders

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "categorical"]

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Lineage:
    """What a saved training set was built from (in its parquet metadata)."""

    source: str  # the data source its rows first came from
    golden: str  # the key of the golden test set it was split around
    labelled_rows: int = 0  # rows that came from labelled captures
    model_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str
    frame: pd.DataFrame
    target: str
    schema: Schema
    fingerprint: str
    dropped_unlabelled: int = 0
    # Set when the rows are a run's saved training data (or a retrain's):
    # where they came from, so their test rows stay the same golden set.
    lineage: Lineage | None = None

    @property
    def X(self) -> pd.DataFrame:
        return self.frame.drop(columns=[self.target])

    @property
    def y(self) -> pd.Series:
        return self.frame[self.target]

    @property
    def image(self) -> Image | None:
        return self.schema.image


def load_dataset(cfg: DataConfig) -> Dataset:
    """Read the configured source, validate the target and infer the schema.

    A parquet file that mlopslab saved as a run's training data brings its
    target, name, image shape and lineage with it.
    """
    saved = _saved_training(cfg.source)
    if saved is not None:
        return _load_saved(cfg, saved)
    name, frame, default_target, image = _read_source(cfg.source)
    target = cfg.target or default_target
    if target is None:
        raise DataError(
            f"no target column given for {cfg.source}",
            "pass --target COLUMN naming the column to predict",
        )
    if target != default_target:
        image = None  # predicting a pixel: a table, not images
    return build_dataset(name, cfg.source, frame, target, image)


def _saved_training(source: str) -> dict[str, Any] | None:
    """The metadata mlopslab wrote into a training-data parquet file, if any."""
    if Path(source).suffix.lower() not in {".parquet", ".pq"}:
        return None
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(source).metadata or {}
        content = json.loads(metadata.get(LINEAGE_KEY, b"null"))
    except (OSError, ValueError):
        return None  # not ours, or unreadable: the ordinary reader says why
    wanted = {"source", "target", "golden"}
    if not isinstance(content, dict) or not wanted <= set(content):
        return None
    return content


def _load_saved(cfg: DataConfig, saved: dict[str, Any]) -> Dataset:
    target = cfg.target or str(saved["target"])
    image = Image(**saved["image"]) if saved.get("image") else None
    name = str(saved.get("name") or _model_name(Path(cfg.source).stem))
    dataset = build_dataset(name, cfg.source, _read_table(Path(cfg.source)), target)
    lineage = Lineage(
        source=str(saved["source"]),
        golden=str(saved["golden"]),
        labelled_rows=int(saved.get("labelled_rows", 0)),
        model_name=saved.get("model_name"),
    )
    schema = replace(dataset.schema, image=image if target == saved["target"] else None)
    return replace(dataset, lineage=lineage, schema=schema)


def training_metadata(dataset: Dataset, golden: str, model_name: str) -> dict[str, Any]:
    """What a run's saved training data records about itself (`_load_saved`)."""
    lineage = dataset.lineage
    return {
        "name": dataset.name,
        "model_name": model_name,
        "source": lineage.source if lineage else dataset.source,
        "target": dataset.target,
        "golden": golden,
        "labelled_rows": lineage.labelled_rows if lineage else 0,
        "image": dataset.image.to_dict() if dataset.image else None,
    }


def build_dataset(
    name: str, source: str, frame: pd.DataFrame, target: str, image: Image | None = None
) -> Dataset:
    """Validate an in-memory frame as a dataset (used by loaders and retraining)."""
    if target not in frame.columns:
        columns = list(map(str, frame.columns))
        shown = ", ".join(columns[:30]) + (
            f", ... ({len(columns) - 30} more)" if len(columns) > 30 else ""
        )
        raise DataError(
            f"target column '{target}' is not in {source}",
            f"choose --target from its columns: {shown}",
        )
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    _refuse_continuous(labelled[target], target)
    labelled[target] = labelled[target].astype(str)
    _booleans_as_objects(labelled)
    if len(labelled.columns) < 2:
        raise DataError(f"{source} has no feature columns", "add at least one feature")
    classes = sorted(labelled[target].unique())
    if len(classes) < 2:
        raise DataError(
            f"target '{target}' has only one class "
            f"({classes[0] if classes else 'none'})",
            "classification needs at least two classes in the data",
        )
    schema = replace(infer_schema(labelled, target), image=image)
    return Dataset(
        name=name,
        source=source,
        frame=labelled,
        target=target,
        schema=schema,
        fingerprint=fingerprint(labelled),
        dropped_unlabelled=len(frame) - len(labelled),
    )


def _booleans_as_objects(frame: pd.DataFrame) -> None:
    """Boolean columns hold Python's True and False as objects: a category to the
    pipeline (whose imputer refuses the bool dtype), `boolean` in the model's
    signature, and what JSON's true and false become at serving."""
    for name in frame.columns:
        if pd.api.types.is_bool_dtype(frame[name]):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)


def _refuse_continuous(values: pd.Series, target: str) -> None:
    """A measured number (a price, a weight) is not a class label.

    Numbers are labels when they are whole and few: digits' 0-9 are, a body
    mass with 94 values in 342 rows is not.
    """
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return
    distinct = values.nunique()
    fractional = bool((values % 1 != 0).any())
    if not fractional and distinct <= max(20, len(values) // 10):
        return
    kind = "fractional numbers" if fractional else "many distinct numbers"
    raise DataError(
        f"target '{target}' holds {kind} ({distinct} values in {len(values)} "
        "rows): mlopslab does classification, not regression",
        "choose a column of categories as --target, or bin this one into "
        "classes first (for example with pandas.cut)",
    )


def infer_schema(frame: pd.DataFrame, target: str) -> Schema:
    """Numeric columns are numbers (bools excluded); everything else is categorical."""
    columns = []
    for name in frame.columns:
        if name == target:
            continue
        series = frame[name]
        numeric = pd.api.types.is_numeric_dtype(series) and not (
            pd.api.types.is_bool_dtype(series)
        )
        categories: tuple[str, ...] = ()
        if not numeric:
            categories = tuple(sorted(series.dropna().astype(str).unique()))
        columns.append(
            ColumnSchema(
                name=str(name),
                kind="numeric" if numeric else "categorical",
                dtype=str(series.dtype),
                missing_rate=float(series.isna().mean()),
                categories=categories,
            )
        )
    classes = tuple(sorted(frame[target].astype(str).unique()))
    return Schema(columns=tuple(columns), target=target, classes=classes)


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of the rows and column names, independent of row index."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _read_source(source: str) -> tuple[str, pd.DataFrame, str | None, Image | None]:
    if source == "penguins":
        return "penguins", _load_penguins(), BUILTIN_TARGETS["penguins"], None
    if source == "digits":
        # scikit-learn's digits: 8x8 images of 17 grey levels, 0 to 16.
        return "digits", _load_digits(), BUILTIN_TARGETS["digits"], Image(8, 8, 0, 16)
    path = Path(source)
    if not path.exists():
        raise DataError(
            f"data not found: {source}",
            "pass --data penguins, --data digits, a CSV/parquet file or an IDX folder",
        )
    if path.is_dir():
        frame, image = load_idx_dir(path)
        return _model_name(path.name), frame, BUILTIN_TARGETS["mnist"], image
    return _model_name(path.stem), _read_table(path), None, None


def _load_penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def _load_digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    frame = pd.DataFrame(
        bunch.data, columns=[f"pixel_{i}" for i in range(bunch.data.shape[1])]
    )
    frame["digit"] = bunch.target.astype(str)
    return frame


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
        elif suffix in {".csv", ".txt", ".tsv"}:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        else:
            raise DataError(
                f"unsupported data file type '{suffix}': {path}",
                "use a .csv or .parquet file",
            )
    except DataError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot read {path}: {first_line(exc)}",
            "check that the file is a valid, readable CSV or parquet file",
        ) from exc
    if frame.empty:
        raise DataError(f"{path} has no rows", "provide a file with data rows")
    return frame


def load_idx_dir(folder: Path) -> tuple[pd.DataFrame, Image]:
    """Read every `*images*` / `*labels*` IDX pair in a folder (MNIST layout)."""
    frames = []
    shapes: set[tuple[int, ...]] = set()
    low, high = np.inf, -np.inf
    for images_path in sorted(folder.glob("*images*idx3*")):
        labels_path = images_path.with_name(
            images_path.name.replace("images", "labels").replace("idx3", "idx1")
        )
        if not labels_path.exists():
            raise DataError(
                f"no labels file for {images_path.name} (expected {labels_path.name})",
                "put the matching *-labels-idx1-ubyte file beside the images",
            )
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"IDX shapes do not match: {images_path.name} {images.shape}, "
                f"{labels_path.name} {labels.shape}",
                "use MNIST-style image (N,H,W) and label (N,) files",
            )
        if len(images) == 0:
            raise DataError(
                f"{images_path.name} holds no images", "use a file with images in it"
            )
        shapes.add(images.shape[1:])
        low, high = _pixel_range(images, low, high)
        pixels = images.reshape(len(images), -1).astype(np.float32)
        frame = pd.DataFrame(
            pixels, columns=[f"pixel_{i}" for i in range(pixels.shape[1])]
        )
        frame["digit"] = labels.astype(str)
        frames.append(frame)
    if not frames:
        raise DataError(
            f"no IDX image files in {folder}",
            "the folder needs files like train-images-idx3-ubyte[.gz] and their labels",
        )
    if len(shapes) > 1:
        raise DataError(
            f"the IDX image files in {folder} have different sizes: "
            + ", ".join("x".join(map(str, s)) for s in sorted(shapes)),
            "keep images of one size in the folder",
        )
    if high <= low:
        raise DataError(
            f"every pixel in {folder} has the value {low:g}",
            "check the image files: there is nothing to learn from",
        )
    ((height, width),) = shapes
    return pd.concat(frames, ignore_index=True), Image(height, width, low, high)


def _pixel_range(images: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """The range over the files so far: a byte file's is its format's, 0 to 255;
    another's, the values it holds."""
    if images.dtype == np.uint8:
        seen = (0.0, 255.0)
    else:
        seen = (float(images.min()), float(images.max()))
    return min(low, seen[0]), max(high, seen[1])


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (optionally gzipped): magic, big-endian dims, then data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}", "check the IDX file") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(
            f"{path.name} is not an IDX file (bad magic number)", "check the file"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path.name} is truncated: {len(raw) - header} data bytes, "
            f"expected {expected}",
            "re-copy the file",
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _model_name(stem: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.")
    return cleaned or "dataset"
