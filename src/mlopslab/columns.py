"""Column hygiene: the columns a model should not learn from, and why.

Run on a table's labelled rows before its schema is built (data.py):

- identifier: strings, or whole numbers that count rows up or are named like
  an id, (nearly) all distinct. One-hot encoded, they let a model memorise
  rows: right on ids it has seen, guessing on new ones.
- constant: one value, or none. Nothing to learn.
- timestamp: a date (and time) in every value. As categories no future time
  would match, so by default it becomes numeric parts (year, month, day,
  weekday, hour, minute: those that vary) inside the model's pipeline, where
  the model still takes the raw column; `data.timestamps = "drop"` leaves it out.
- free text: long strings with spaces, most of them distinct.
- target copy: a column whose values map one-to-one onto the labels (the
  target under another name, or encoded). A model would read the answer.

`data.drop` leaves named columns out; `data.keep` keeps columns a rule would
drop. Each rule is vectorised pandas over the rows, or a fixed sample of them
where a share is all it needs (how many values are distinct, how long, whether
they parse as dates): about 0.1 s for 100,000 rows of 30 columns.

`date_parts` is the pipeline's side of the timestamps (preprocess.py).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.preprocessing import FunctionTransformer

from mlopslab.errors import DataError

Action = Literal["dropped", "expanded", "kept"]
# The parts a timestamp can become, in order; a column keeps those that vary.
PARTS = ("year", "month", "day", "weekday", "hour", "minute")
# How many rows the rules that need a share look at (evenly spaced).
SAMPLE_ROWS = 20_000
DATE_SAMPLE = 2_000
# An identifier: at least this share of distinct values, and more than
# ID_MIN_DISTINCT of them (a few distinct values in a few rows say nothing).
ID_DISTINCT_SHARE = 0.95
ID_MIN_DISTINCT = 50
# Free text: this mean length, a space in most values, most values distinct.
TEXT_MEAN_LENGTH = 30
# A copy of the target may disagree with it on this share of rows at most
# (none below 1,000 rows), and is looked for from this many rows up.
COPY_MISMATCH = 0.001
COPY_MIN_ROWS = 50


@dataclass(frozen=True)
class Decision:
    """What happened to one column, and the rule that decided it."""

    column: str
    action: Action
    # identifier, constant, timestamp, free text, copies the target, data.drop
    reason: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class DateParts:
    """A timestamp column as numbers: the parts that vary in the training rows.
    `format` is the one its values were found in (others parse one by one)."""

    column: str
    format: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class ColumnRules:
    """The user's say (`data.drop`, `data.keep`, `data.timestamps`), and
    whether the rules run at all: rows mlopslab saved were checked when they
    were first loaded, so only timestamps are found again."""

    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    timestamps: Literal["expand", "drop"] = "expand"
    detect: bool = True


@dataclass(frozen=True)
class ColumnReport:
    decisions: tuple[Decision, ...] = ()
    timestamps: tuple[DateParts, ...] = ()

    @property
    def dropped(self) -> list[str]:
        return [d.column for d in self.decisions if d.action == "dropped"]

    def summary(self, limit: int = 6) -> str:
        """One clause for the data stage's line: "dropped id (identifier),
        notes (free text); ts expanded (timestamp)". Empty when no column
        needed a decision."""
        dropped = [d for d in self.decisions if d.action == "dropped"]
        # A copy of the target first: it is the one that would have lied.
        dropped.sort(key=lambda d: d.reason != "copies the target")
        named = [f"{d.column} ({d.reason})" for d in dropped]
        clauses = ["dropped " + _listed(named, limit)] if named else []
        others = [
            f"{d.column} expanded ({d.reason})"
            if d.action == "expanded"
            else f"{d.column} kept by data.keep ({d.reason})"
            for d in self.decisions
            if d.action != "dropped"
        ]
        if others:
            clauses.append(_listed(others, limit))
        return "; ".join(clauses)

    def then(self, later: ColumnReport) -> ColumnReport:
        """This report's drops, then a later look at the same rows (a saved
        training set's, a retrain's): what it found, and its timestamps."""
        earlier = tuple(d for d in self.decisions if d.action != "expanded")
        return ColumnReport(earlier + later.decisions, later.timestamps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisions": [d.to_dict() for d in self.decisions],
            "timestamps": [asdict(t) for t in self.timestamps],
        }

    @classmethod
    def from_dict(cls, content: dict[str, Any] | None) -> ColumnReport:
        content = content or {}
        return cls(
            tuple(Decision(**d) for d in content.get("decisions", [])),
            tuple(
                DateParts(t["column"], t["format"], tuple(t["parts"]))
                for t in content.get("timestamps", [])
            ),
        )


def _listed(items: list[str], limit: int) -> str:
    more = len(items) - limit
    shown = ", ".join(items[:limit])
    return shown + (f" and {more} more (the model card lists them)" if more > 0 else "")


def inspect_columns(
    frame: pd.DataFrame, target: str, rules: ColumnRules
) -> ColumnReport:
    """Decide, for each feature column, whether the model learns from it.

    `frame` holds labelled rows with the target as text. Raises DataError when
    `data.drop` or `data.keep` names a column the data lacks.
    """
    columns = [column for column in frame.columns if column != target]
    _named_columns(rules, [str(column) for column in columns])
    labels = frame[target]
    decisions: list[Decision] = []
    dated: list[DateParts] = []
    for column in columns:
        name = str(column)
        if name in rules.drop:
            decisions.append(Decision(name, "dropped", "data.drop"))
            continue
        found = _classify(frame[column], labels, name, rules)
        if isinstance(found, DateParts):
            if rules.timestamps == "drop" and name not in rules.keep:
                detail = "data.timestamps is drop"
                decisions.append(Decision(name, "dropped", "timestamp", detail))
            else:
                detail = "into " + ", ".join(found.parts)
                decisions.append(Decision(name, "expanded", "timestamp", detail))
                dated.append(found)
        elif found is not None:
            reason, detail = found
            action: Action = "kept" if name in rules.keep else "dropped"
            decisions.append(Decision(name, action, reason, detail))
    return ColumnReport(tuple(decisions), tuple(dated))


def _named_columns(rules: ColumnRules, features: list[str]) -> None:
    """Refuse, in one line, a name in data.drop or data.keep the data lacks."""
    both = sorted(set(rules.drop) & set(rules.keep))
    if both:
        raise DataError(
            f"data.drop and data.keep both name {', '.join(both)}",
            "name each column in one of them only",
        )
    for option, names in (("data.drop", rules.drop), ("data.keep", rules.keep)):
        unknown = [name for name in names if name not in features]
        if unknown:
            shown = ", ".join(features[:30]) + (
                f", ... ({len(features) - 30} more)" if len(features) > 30 else ""
            )
            raise DataError(
                f"{option} names {', '.join(unknown)}, not a feature column of "
                "the data",
                f"choose from its feature columns: {shown}",
            )


def _classify(
    values: pd.Series, labels: pd.Series, name: str, rules: ColumnRules
) -> tuple[str, str] | DateParts | None:
    """The rule a column breaks, and in what way; a timestamp's parts; or None."""
    present = values.dropna()
    if not rules.detect:
        return _timestamp(present) if _is_text(values) else None
    if len(present) == 0 or not (present != present.iloc[0]).any():
        value = present.iloc[0] if len(present) else None
        shown = "no values" if value is None else f"only {_shown(value)}"
        return "constant", shown
    copy = _copies_target(values, labels)
    if copy:
        return "copies the target", copy
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_float_dtype(values):
        return None
    sample = _spaced(present, SAMPLE_ROWS)
    distinct = sample.nunique()
    many = distinct >= ID_DISTINCT_SHARE * len(sample) and distinct > ID_MIN_DISTINCT
    of = f"{distinct} distinct values in {len(sample)} rows" + (
        " (an even sample)" if len(sample) < len(present) else ""
    )
    if _is_text(values):
        dates = _timestamp(present)
        if dates is not None:
            return dates
        if _free_text(sample, distinct):
            lengths = sample.astype(str).str.len()
            return "free text", f"{of}, {lengths.mean():.0f} characters on average"
        return ("identifier", of) if many else None
    if (
        many
        and pd.api.types.is_integer_dtype(values)
        and _counts_or_named(sample, name)
    ):
        return "identifier", of
    return None


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _is_text(values: pd.Series) -> bool:
    return not (
        pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    )


def _spaced(values: pd.Series, size: int) -> pd.Series:
    """At most `size` values, evenly spaced: the same rows on every run."""
    if len(values) <= size:
        return values
    return values.iloc[np.linspace(0, len(values) - 1, size).astype(np.int64)]


def _copies_target(values: pd.Series, labels: pd.Series) -> str:
    """How a column copies the target, or "": as many values as classes, each
    value one class and each class one value, on (nearly) every row."""
    classes = labels.nunique()
    present = values.notna().to_numpy()
    if present.sum() < max(COPY_MIN_ROWS, len(values) // 2):
        return ""
    if _spaced(values.dropna(), SAMPLE_ROWS).nunique() > classes:
        return ""  # a sample already has more values than there are classes
    codes, uniques = pd.factorize(values)
    if len(uniques) != classes:
        return ""
    label_codes, _ = pd.factorize(labels)
    pairs = codes[present].astype(np.int64) * classes + label_codes[present]
    table = np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)
    agree = int(table.max(axis=1).sum())
    one_to_one = len(set(table.argmax(axis=1).tolist())) == classes
    allowed = int(COPY_MISMATCH * present.sum())
    if not one_to_one or present.sum() - agree > allowed:
        return ""
    return (
        f"each of its {classes} values is one class on {agree} of {present.sum()} rows"
    )


def _free_text(sample: pd.Series, distinct: int) -> bool:
    text = sample.astype(str)
    return bool(
        distinct > 20
        and distinct >= 0.5 * len(sample)
        and text.str.len().mean() > TEXT_MEAN_LENGTH
        and text.str.contains(" ", regex=False).mean() >= 0.5
    )


ID_WORDS = {"id", "ids", "uuid", "guid", "key", "index", "idx"}


def _counts_or_named(sample: pd.Series, name: str) -> bool:
    """Whole numbers that are ids: named like one (`user_id`, `PassengerId`),
    or counting rows up (1, 2, 3, ... in any order, with few gaps). A measured
    whole number (a price in cents) is spread wider than its count."""
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)
    if name.startswith("Unnamed") or (words and words[-1].lower() in ID_WORDS):
        return True
    span = float(sample.max()) - float(sample.min()) + 1
    return span <= 1.1 * len(sample)


def _timestamp(present: pd.Series) -> DateParts | None:
    """A date (with a year and a month) in nearly every value, and the parts
    of it that vary; None for anything else."""
    if len(present) == 0:
        return None
    sample = _spaced(present, DATE_SAMPLE).astype(str)
    if not any(char.isdigit() for char in sample.iloc[0]):
        return None  # every date has digits: most columns stop here
    best, parsed = _best_format(sample)
    if best is None or parsed is None:
        return None
    stamps = parsed.dropna()
    parts = tuple(
        part
        for part in PARTS
        if _written(part, best) and _part(stamps, part).nunique() > 1
    )
    return DateParts(str(present.name), best, parts) if parts else None


def _best_format(sample: pd.Series) -> tuple[str | None, pd.Series | None]:
    from pandas.tseries.api import guess_datetime_format

    formats: list[str] = []
    with warnings.catch_warnings():  # "dayfirst=True was specified": it was
        warnings.simplefilter("ignore", UserWarning)
        for text in sample.iloc[:20]:
            for dayfirst in (False, True):
                guess = guess_datetime_format(text, dayfirst=dayfirst)
                if guess and _has_date(guess) and guess not in formats:
                    formats.append(guess)
    best: tuple[float, str | None, pd.Series | None] = (0.0, None, None)
    for fmt in formats:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce", utc=True)
        share = float(parsed.notna().mean())
        if share > best[0]:
            best = (share, fmt, parsed)
    if best[0] < 0.95:
        return None, None
    return best[1], best[2]


# The format codes that write each part: a month ("2024-05") has no weekday.
PART_CODES = {
    "year": ("%Y", "%y"),
    "month": ("%m", "%b", "%B"),
    "day": ("%d",),
    "weekday": ("%d",),
    "hour": ("%H", "%I"),
    "minute": ("%M",),
}


def _has_date(fmt: str) -> bool:
    return _written("year", fmt) and _written("month", fmt)


def _written(part: str, fmt: str) -> bool:
    return any(code in fmt for code in PART_CODES[part])


def _part(stamps: pd.Series, part: str) -> pd.Series:
    return getattr(stamps.dt, "dayofweek" if part == "weekday" else part)


# The pipeline's side: what the model does to a timestamp column's values.


def parse_dates(values: pd.Series, fmt: str) -> pd.Series:
    """Values as UTC times: by `fmt` first (fast), the rest one by one; NaT
    for what is not a date."""
    parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    failed = parsed.isna() & values.notna()
    if failed.any():
        parsed[failed] = pd.to_datetime(
            values[failed].astype(str), format="mixed", errors="coerce", utc=True
        )
    return parsed


def date_parts_transformer(timestamps: Sequence[DateParts]) -> FunctionTransformer:
    """The timestamp columns, in order, to their parts (preprocess.py)."""
    return FunctionTransformer(
        date_parts,
        kw_args={
            "formats": [t.format for t in timestamps],
            "parts": [list(t.parts) for t in timestamps],
        },
        feature_names_out=date_part_names,
    )


def date_parts(
    X: Any, formats: Sequence[str], parts: Sequence[Sequence[str]]
) -> np.ndarray:
    """A FunctionTransformer's function: each timestamp column's parts, as
    floats (NaN where a value is missing or not a date, for the imputer)."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
    out = []
    for index, (fmt, wanted) in enumerate(zip(formats, parts, strict=True)):
        stamps = parse_dates(frame.iloc[:, index].reset_index(drop=True), fmt)
        for part in wanted:
            out.append(_part(stamps, part).to_numpy(dtype=float, na_value=np.nan))
    return np.column_stack(out) if out else np.empty((len(frame), 0))


def date_part_names(transformer: Any, columns: Any) -> np.ndarray:
    """The parts' feature names: `ts_year`, `ts_hour`."""
    parts = transformer.kw_args["parts"]
    names = [
        f"{column}_{part}"
        for column, wanted in zip(columns, parts, strict=True)
        for part in wanted
    ]
    return np.asarray(names, dtype=object)
