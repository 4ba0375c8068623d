"""Load a dataset and infer its schema.

Sources: the built-ins `penguins` (palmerpenguins) and `digits` (scikit-learn's
bundled 8x8 digits), a folder of MNIST IDX files, or a CSV/parquet file with a
named target column. Everything is read from local files: no downloads. A
file's source is kept as its absolute path, so a retrain finds it from any
directory.

The target must be a single label per row, from a handful of classes
(`check_task`); a table's columns pass column hygiene (columns.py) before its
schema is built.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlopslab.columns import ColumnReport, ColumnRules, DateParts, inspect_columns
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
# The task: whole numbers with more distinct values than MANY_CLASSES are
# counts or measurements, not class codes; and more classes than that need
# ROWS_PER_CLASS rows each on average.
MANY_CLASSES = 20
ROWS_PER_CLASS = 20
MULTI_LABEL_SEPARATORS = ("|", ";", ",")
# Rows that passed column hygiene once (a retrain's): timestamps found again.
RECHECK = ColumnRules(detect=False)


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
    # Timestamp columns: categorical to the baseline (their values are text),
    # numeric parts to the model (preprocess.py).
    timestamps: tuple[DateParts, ...] = ()

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        dated = {t.column for t in self.timestamps}
        return [
            c.name
            for c in self.columns
            if c.kind == "categorical" and c.name not in dated
        ]

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
    # The columns column hygiene dropped, expanded or kept, and why.
    column_report: ColumnReport = field(default_factory=ColumnReport)
    # The source's own test rows, when it has them (an IDX folder with
    # MNIST's t10k files beside its train files): the golden test set.
    official_test: np.ndarray | None = None

    @property
    def X(self) -> pd.DataFrame:
        return self.frame.drop(columns=[self.target])

    @property
    def y(self) -> pd.Series:
        return self.frame[self.target]

    @property
    def image(self) -> Image | None:
        return self.schema.image

    @property
    def notes(self) -> list[str]:
        """What the data stage's line adds: the columns hygiene decided on, and
        a test set the source brings."""
        notes = [self.column_report.summary()]
        if self.official_test is not None:
            rows = int(self.official_test.sum())
            notes.append(f"test set: the source's own test files ({rows} rows)")
        return [note for note in notes if note]


def load_dataset(cfg: DataConfig) -> Dataset:
    """Read the configured source, validate the target and infer the schema.

    A parquet file that mlopslab saved as a run's training data brings its
    target, name, image shape and lineage with it.
    """
    source = absolute_source(cfg.source)
    try:
        return _load(cfg, source)
    except DataError as exc:
        if source == cfg.source:
            raise
        # Runs record the absolute path; the user reads the one they typed.
        raise DataError(
            exc.message.replace(source, cfg.source),
            exc.hint.replace(source, cfg.source),
        ) from exc


def _load(cfg: DataConfig, source: str) -> Dataset:
    saved = _saved_training(source)
    if saved is not None:
        return _load_saved(cfg, source, saved)
    name, frame, default_target, image, test_rows = _read_source(source)
    target = cfg.target or default_target
    if target is None:
        raise DataError(
            f"no target column given for {cfg.source}",
            "pass --target COLUMN naming the column to predict",
        )
    if target != default_target:
        image = None  # predicting a pixel: a table, not images
    rules = ColumnRules(cfg.drop, cfg.keep, cfg.timestamps)
    dataset = build_dataset(name, source, frame, target, image, rules)
    if test_rows is not None and len(test_rows) == len(dataset.frame):
        dataset = replace(dataset, official_test=test_rows)  # IDX labels: no gaps
    return dataset


def absolute_source(source: str) -> str:
    """A file or folder as its absolute path (what runs record, so that a
    retrain finds it from anywhere); a built-in name, or a path that does not
    exist (its error names it as given), unchanged."""
    if source in BUILTIN_TARGETS:
        return source
    path = Path(source).expanduser()
    return str(path.resolve()) if path.exists() else source


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


def _load_saved(cfg: DataConfig, source: str, saved: dict[str, Any]) -> Dataset:
    target = cfg.target or str(saved["target"])
    image = Image(**saved["image"]) if saved.get("image") else None
    name = str(saved.get("name") or _model_name(Path(source).stem))
    # Its rows passed column hygiene when first loaded: only data.drop and
    # timestamps apply again, and the first decisions stay on record.
    frame = _read_table(Path(source))
    # Columns dropped when the rows were first loaded are not in them.
    drop = tuple(column for column in cfg.drop if column in frame.columns)
    rules = ColumnRules(drop, (), cfg.timestamps, detect=False)
    dataset = build_dataset(name, source, frame, target, rules=rules)
    earlier = ColumnReport.from_dict(saved.get("columns"))
    report = earlier.then(dataset.column_report)
    lineage = Lineage(
        source=str(saved["source"]),
        golden=str(saved["golden"]),
        labelled_rows=int(saved.get("labelled_rows", 0)),
        model_name=saved.get("model_name"),
    )
    schema = replace(dataset.schema, image=image if target == saved["target"] else None)
    return replace(dataset, lineage=lineage, schema=schema, column_report=report)


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
        "columns": dataset.column_report.to_dict(),
    }


def build_dataset(
    name: str,
    source: str,
    frame: pd.DataFrame,
    target: str,
    image: Image | None = None,
    rules: ColumnRules = RECHECK,
) -> Dataset:
    """Validate an in-memory frame as a dataset (used by loaders and retraining).

    A table's columns pass column hygiene by `rules`; by default (rows already
    checked once, as a retrain's are) only timestamps are found again.
    """
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
    check_task(labelled[target], target)
    labelled[target] = labelled[target].astype(str)
    _booleans_as_objects(labelled)
    _datetimes_as_text(labelled)
    if len(labelled.columns) < 2:
        raise DataError(f"{source} has no feature columns", "add at least one feature")
    classes = sorted(labelled[target].unique())
    if len(classes) < 2:
        raise DataError(
            f"target '{target}' has only one class "
            f"({classes[0] if classes else 'none'})",
            "classification needs at least two classes in the data",
        )
    report = ColumnReport()
    if image is None:
        report = inspect_columns(labelled, target, rules)
        dropped = set(report.dropped)
        labelled = labelled.drop(columns=[c for c in labelled if str(c) in dropped])
    if len(labelled.columns) < 2:
        raise DataError(
            f"no feature column of {source} is left: {report.summary()}",
            "keep a column with data.keep (or add features)",
        )
    schema = replace(infer_schema(labelled, target, report.timestamps), image=image)
    return Dataset(
        name=name,
        source=source,
        frame=labelled,
        target=target,
        schema=schema,
        fingerprint=fingerprint(labelled),
        dropped_unlabelled=len(frame) - len(labelled),
        column_report=report,
    )


def _booleans_as_objects(frame: pd.DataFrame) -> None:
    """Boolean columns hold Python's True and False as objects: a category to the
    pipeline (whose imputer refuses the bool dtype), `boolean` in the model's
    signature, and what JSON's true and false become at serving."""
    for name in frame.columns:
        if pd.api.types.is_bool_dtype(frame[name]):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)


def _datetimes_as_text(frame: pd.DataFrame) -> None:
    """Date-time columns (from parquet) hold their values as text, as a CSV's
    do and as requests send them: the model parses them (columns.py)."""
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            frame[name] = values.astype(str).where(values.notna(), None)


SINGLE_LABEL = "mlopslab does single-label classification"


def check_task(values: pd.Series, target: str) -> None:
    """Refuse, in one line, a target that is not one class per row.

    A measured number (a price, a weight) or a count is not a class label:
    numbers are labels when they are whole and few (digits' 0-9 are, a body
    mass with 94 values in 342 rows is not). Nor are values that list several
    labels ("a|b"), or as many classes as there are rows to learn them from.
    """
    rows = len(values)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        distinct = values.nunique()
        if bool((values % 1 != 0).any()):
            raise DataError(
                f"target '{target}' looks continuous ({distinct} distinct values "
                f"in {rows} rows): {SINGLE_LABEL}",
                "bin it into classes first (for example with pandas.cut), or "
                "choose a categorical --target",
            )
        if distinct > MANY_CLASSES:
            raise DataError(
                f"target '{target}' holds {distinct} distinct whole numbers in "
                f"{rows} rows, a count or a measurement: {SINGLE_LABEL} "
                f"(numbers as classes: up to {MANY_CLASSES})",
                "bin it into classes first (for example with pandas.cut), "
                "choose a categorical --target, or, if the numbers are class "
                "codes, give the classes names",
            )
        return
    counts = values.astype(str).value_counts()
    _refuse_multi_label(counts, target)
    classes = len(counts)
    if classes > MANY_CLASSES and rows < ROWS_PER_CLASS * classes:
        raise DataError(
            f"target '{target}' has {classes} classes in {rows} rows "
            f"({rows / classes:.1f} rows per class): {SINGLE_LABEL}, and needs "
            f"about {ROWS_PER_CLASS} rows per class",
            "choose a categorical --target with fewer classes, or group rare "
            "classes together",
        )


def _refuse_multi_label(counts: pd.Series, target: str) -> None:
    """Values like "a|b" in a fifth of the rows or more, listing labels that
    recur across values ("a|b", "a|c", "b"), where names with a comma
    ("Smith, J") do not."""
    rows = int(counts.sum())
    labels = pd.Series(counts.index, dtype=object)
    for separator in MULTI_LABEL_SEPARATORS:
        listing = labels.str.contains(separator, regex=False).to_numpy()
        share = float(counts[listing].sum()) / rows
        if share < 0.2:
            continue
        parts = [part.strip() for value in labels for part in value.split(separator)]
        if len(parts) >= 1.5 * len(set(parts)):
            example = str(labels[listing].iloc[0])
            raise DataError(
                f"target '{target}' holds several labels per row ('{example}' "
                f"in {share:.0%} of rows have '{separator}'): {SINGLE_LABEL}",
                "train a model per label (a yes/no column each), or keep one "
                "label per row",
            )


def infer_schema(
    frame: pd.DataFrame, target: str, timestamps: tuple[DateParts, ...] = ()
) -> Schema:
    """Numeric columns are numbers (bools excluded); everything else is
    categorical, `timestamps` (whose values are not listed) included."""
    dated = {t.column for t in timestamps}
    columns = []
    for name in frame.columns:
        if name == target:
            continue
        series = frame[name]
        numeric = pd.api.types.is_numeric_dtype(series) and not (
            pd.api.types.is_bool_dtype(series)
        )
        categories: tuple[str, ...] = ()
        if not numeric and name not in dated:
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
    return Schema(
        columns=tuple(columns), target=target, classes=classes, timestamps=timestamps
    )


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of the rows and column names, independent of row index."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _read_source(
    source: str,
) -> tuple[str, pd.DataFrame, str | None, Image | None, np.ndarray | None]:
    """Name, rows, default target, image shape, and the source's own test rows."""
    if source == "penguins":
        return "penguins", _load_penguins(), BUILTIN_TARGETS["penguins"], None, None
    if source == "digits":
        # scikit-learn's digits: 8x8 images of 17 grey levels, 0 to 16.
        image = Image(8, 8, 0, 16)
        return "digits", _load_digits(), BUILTIN_TARGETS["digits"], image, None
    path = Path(source)
    if not path.exists():
        raise DataError(
            f"data not found: {source}",
            "pass --data penguins, --data digits, a CSV/parquet file or an IDX folder",
        )
    if path.is_dir():
        frame, image, test_rows = _read_idx_folder(path)
        name = _model_name(path.name)
        return name, frame, BUILTIN_TARGETS["mnist"], image, test_rows
    return _model_name(path.stem), _read_table(path), None, None, None


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
    frame, image, _ = _read_idx_folder(folder)
    return frame, image


def _read_idx_folder(folder: Path) -> tuple[pd.DataFrame, Image, np.ndarray | None]:
    """The rows, the image shape and, when the folder has both train and test
    files (MNIST's own split: `train-*` and `t10k-*`), which rows are test."""
    frames = []
    shapes: set[tuple[int, ...]] = set()
    low, high = np.inf, -np.inf
    tests: list[bool] = []
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
        tests.append(_is_test_file(images_path))
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
    test_rows = None
    if any(tests) and not all(tests):
        test_rows = np.concatenate(
            [np.full(len(f), test) for f, test in zip(frames, tests, strict=True)]
        )
    frame = pd.concat(frames, ignore_index=True)
    return frame, Image(height, width, low, high), test_rows


def _is_test_file(path: Path) -> bool:
    """MNIST's test files: `t10k-images-idx3-ubyte`, or a name that says test."""
    name = path.name.lower()
    return name.startswith("t10k") or "test" in name


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
