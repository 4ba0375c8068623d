"""Seeded traffic and ground truth, to practise monitoring without real users.

Drift specs, one per --drift flag:
    COL:+15%        shift a number by 15% of its mean (or -15%)
    COL:+1sd        shift a number by one standard deviation
    COL:*1.2        scale a number
    COL:CAT+30pp    raise category CAT's share by 30 percentage points
    COL:missing=20% blank 20% of the values
    COL:unseen=10%  replace 10% of the values with a category never seen

Each spec is checked against the served model's signature before anything is
sent (`check_drift`): shifts and scales for number columns, categories for
string ones, blanks only where the model accepts null. Shifted integer
columns are rounded back to whole numbers.

Only rows the served contract accepts are sent (`send_traffic` checks each
against the fields /model lists, as the server would): a row it would refuse,
such as a gap where a strict server (`serve.strict_nulls`) refuses null, is
left out and said so; when no row is left, nothing is sent and the one line
says why.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from mlopslab.errors import ConfigError, DataError
from mlopslab.stores.datasets import GoldenRef, read_frame

SPEC = re.compile(
    r"^(?P<col>[^:]+):(?:(?P<shift>[+-]\d+(?:\.\d+)?)(?P<unit>%|sd)|\*(?P<scale>\d+(?:\.\d+)?)"
    r"|(?P<cat>[^+=]+)\+(?P<pp>\d+(?:\.\d+)?)pp|(?P<what>missing|unseen)=(?P<share>\d+(?:\.\d+)?)%)$"
)
UNSEEN = "__unseen__"
NUMERIC_KINDS = ("shift_pct", "shift_sd", "scale")
# What a field of each kind holds, for messages.
HOLDS = {
    "number": "numbers",
    "integer": "numbers",
    "string": "strings",
    "boolean": "booleans",
    "datetime": "date-times",
}
log = logging.getLogger("mlopslab.simulate")


@dataclass(frozen=True)
class DriftSpec:
    column: str
    kind: str  # shift_pct, shift_sd, scale, category, missing, unseen
    amount: float
    category: str | None = None


def parse_drift(spec: str) -> DriftSpec:
    match = SPEC.match(spec.strip())
    if match is None:
        raise ConfigError(
            f"cannot read drift spec '{spec}'",
            "use COL:+15%, COL:+1sd, COL:*1.2, COL:CAT+30pp, "
            "COL:missing=20% or COL:unseen=10%",
        )
    g = match.groupdict()
    if g["shift"] is not None:
        kind = "shift_pct" if g["unit"] == "%" else "shift_sd"
        return DriftSpec(g["col"], kind, float(g["shift"]))
    if g["scale"] is not None:
        return DriftSpec(g["col"], "scale", float(g["scale"]))
    if g["cat"] is not None:
        return DriftSpec(g["col"], "category", float(g["pp"]) / 100, g["cat"])
    return DriftSpec(g["col"], str(g["what"]), float(g["share"]) / 100)


def check_drift(spec: DriftSpec, signature: list[dict[str, Any]], model: str) -> None:
    """Refuse a spec whose rows the served `model` would reject.

    `signature` is the served model's fields, as /model lists them: name,
    kind ("number", "integer", "boolean", "datetime" or "string"), `required`
    (no gaps in training) and `nullable` (the server accepts null there).
    """
    fields = {str(f["name"]): f for f in signature}
    if spec.column not in fields:
        raise ConfigError(
            f"drift column '{spec.column}' is not a feature of {model}",
            f"choose one of {list(fields)}",
        )
    kind = str(fields[spec.column]["kind"])
    holds = HOLDS.get(kind, "strings")

    def columns(wanted: Callable[[dict[str, Any]], bool]) -> str:
        names = [name for name, f in fields.items() if wanted(f)]
        return ", ".join(names) if names else "none"

    if spec.kind in NUMERIC_KINDS and kind not in ("number", "integer"):
        raise ConfigError(
            f"'{spec.column}' holds {holds} in {model} and cannot be shifted or scaled",
            "shift or scale a number column: "
            + columns(lambda f: f["kind"] in ("number", "integer")),
        )
    if spec.kind in ("category", "unseen") and kind != "string":
        raise ConfigError(
            f"'{spec.column}' holds {holds} in {model}; CAT+pp and unseen= "
            "change categories",
            "use them on a string column: " + columns(lambda f: f["kind"] == "string"),
        )
    if spec.kind == "missing" and not _nullable(fields[spec.column]):
        raise ConfigError(
            f"{model} refuses null in '{spec.column}' (it had no gaps in training)",
            "blank a column that may be null: " + columns(_nullable),
        )


def _nullable(field: dict[str, Any]) -> bool:
    """Whether the server accepts null here (older servers: where training
    had gaps)."""
    return bool(field.get("nullable", not field["required"]))


def refusal(row: dict[str, Any], signature: list[dict[str, Any]]) -> str | None:
    """Why the served contract (the fields /model lists) refuses `row`, as
    the server would say it; None when it accepts it."""
    names = {str(f["name"]) for f in signature}
    unknown = sorted(set(row) - names)
    if unknown:
        return f"field '{unknown[0]}': unknown field"
    for field in signature:
        name, kind = str(field["name"]), str(field["kind"])
        if name not in row:
            return f"field '{name}': missing field"
        problem = _value_problem(row[name], kind, _nullable(field))
        if problem is not None:
            return f"field '{name}': {problem}"
    return None


def _value_problem(value: Any, kind: str, nullable: bool) -> str | None:
    if value is None:
        return None if nullable else "must not be null"
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind in ("string", "datetime"):
        return None if isinstance(value, str) else "must be a string"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if not math.isfinite(value):
        return "must be a finite number, not NaN or infinity"
    if kind == "integer" and not float(value).is_integer():
        return "must be a whole number"
    return None


def apply_drift(
    frame: pd.DataFrame, spec: DriftSpec, rng: np.random.Generator
) -> pd.DataFrame:
    """A copy of `frame` with one column changed as the spec says."""
    if spec.column not in frame.columns:
        raise ConfigError(
            f"drift column '{spec.column}' is not a feature",
            f"choose one of {list(frame.columns)}",
        )
    out = frame.copy()
    column = out[spec.column]
    if spec.kind in ("shift_pct", "shift_sd", "scale"):
        if not pd.api.types.is_numeric_dtype(column):
            raise ConfigError(
                f"'{spec.column}' is not numeric", "shift or scale numbers only"
            )
        if spec.kind == "shift_pct":
            changed = column + column.mean() * spec.amount / 100
        elif spec.kind == "shift_sd":
            changed = column + column.std() * spec.amount
        else:
            changed = column * spec.amount
        if pd.api.types.is_integer_dtype(column):
            # Whole numbers stay whole: a model trained on integers refuses 2008.8.
            changed = changed.round()
        out[spec.column] = changed
        return out
    positions = np.arange(len(out))
    if spec.kind == "category":
        others = positions[(column.astype(str) != spec.category).to_numpy()]
        count = min(len(others), round(spec.amount * len(out)))
        chosen = rng.choice(others, size=count, replace=False)
        out[spec.column] = column.astype(object)
        out.iloc[chosen, out.columns.get_loc(spec.column)] = spec.category
        return out
    chosen = rng.choice(positions, size=round(spec.amount * len(out)), replace=False)
    out[spec.column] = column.astype(object)
    value = None if spec.kind == "missing" else UNSEEN
    out.iloc[chosen, out.columns.get_loc(spec.column)] = value
    return out


SWAP = 0.3  # the share of a synthesised row's values taken from another row


def production_rows(
    pool: pd.DataFrame,
    training: pd.DataFrame,
    held_out: pd.DataFrame,
    n: int,
    rng: np.random.Generator,
    target: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """`n` rows (with their target) that no model trained on, and how they were
    found: the held-out pool first, each row once; then, when the pool is
    empty or spent, rows synthesised from the training rows.

    A synthesised row starts as a training row; each of its values is then,
    with probability SWAP, taken from another training row of the same class
    (`target`). Within each class every column keeps its distribution (so
    clean traffic does not look drifted to the monitor, as jittered numbers
    did on images), while the rows are new combinations. Rows equal to a
    training or golden row are drawn again.
    """
    taken = pool.sample(n=min(n, len(pool)), random_state=_seed(rng))
    missing = n - len(taken)
    if missing == 0:
        return taken.reset_index(drop=True), f"{n} rows from the held-out pool"
    avoid = pd.concat([training, held_out])
    made = _synthesise(training, missing, rng, avoid, target)
    if made.empty:
        raise DataError(
            "no row could be synthesised that differs from every training and "
            "golden row (the features have too few distinct values)",
            "keep rows for traffic with split.pool_size and --new-test-set",
        )
    distinct = len(made)
    if distinct < missing:  # few distinct values: repeat new rows, never old ones
        made = made.sample(n=missing, replace=True, random_state=_seed(rng))
    rows = pd.concat([taken, made], ignore_index=True)
    how = (
        f"{missing} rows synthesised from the training rows (each value, with "
        f"probability {SWAP:g}, from another row of the same class"
        + (f"; {distinct} distinct" if distinct < missing else "")
        + ")"
    )
    if len(taken):
        how = f"{len(taken)} rows from the held-out pool, then {how}"
    return rows, how + ", none equal to a training or golden row"


def traffic_rows(
    card: dict[str, Any], n: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, str]:
    """Rows for the served model (its card, as /model gives it) that it never
    trained on, and how they were found (`production_rows`)."""
    from mlopslab.config import DataConfig
    from mlopslab.data import load_dataset

    golden, training = card.get("golden"), card.get("training")
    if not golden or not training:
        raise DataError(
            "the served model does not record its training rows and golden test "
            "set, so traffic could repeat rows it learned from",
            "register a model with this mlopslab (`mlopslab run`), then serve it",
        )
    trained = load_dataset(DataConfig(source=training["path"])).frame
    ref = GoldenRef.from_dict(golden)
    test = read_frame(ref.path, "golden test set")
    pool = test.iloc[:0]
    if ref.pool_rows:
        pool = read_frame(ref.pool_path, "traffic pool")
    return production_rows(pool, trained, test, n, rng, str(card["target"]))


def _synthesise(
    training: pd.DataFrame,
    n: int,
    rng: np.random.Generator,
    avoid: pd.DataFrame,
    target: str | None,
) -> pd.DataFrame:
    from mlopslab.golden import row_keys

    known = set(row_keys(avoid))
    made = training.iloc[:0]
    for _ in range(10):  # a redraw is rare but for data of few distinct values
        fresh = _recombine(training, n - len(made), rng, target)
        fresh = fresh[~row_keys(fresh).isin(known).to_numpy()]
        made = pd.concat([made, fresh], ignore_index=True)
        if len(made) >= n:
            break
    return made.reset_index(drop=True)


def _recombine(
    training: pd.DataFrame, n: int, rng: np.random.Generator, target: str | None
) -> pd.DataFrame:
    """`n` training rows, each value swapped with probability SWAP for the same
    column's value in another row of the same class."""
    base = rng.integers(0, len(training), n)
    out = training.iloc[base].reset_index(drop=True)
    labels = (
        training[target].astype(str).to_numpy()
        if target in training.columns
        else np.zeros(len(training), dtype=str)
    )
    members = {label: np.flatnonzero(labels == label) for label in np.unique(labels)}
    donors = np.empty(n, dtype=int)
    for name in training.columns:
        if name == target:
            continue
        for label, rows in members.items():
            mine = labels[base] == label
            donors[mine] = rows[rng.integers(0, len(rows), int(mine.sum()))]
        swap = rng.random(n) < SWAP
        values = out[name].to_numpy(copy=True)
        values[swap] = training[name].to_numpy()[donors[swap]]
        out[name] = pd.Series(values, dtype=training[name].dtype)
    return out


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def send_traffic(
    url: str,
    rows: pd.DataFrame,
    truth: pd.Series,
    batch: int,
    truth_file: Path,
    signature: list[dict[str, Any]] | None = None,
) -> int:
    """POST rows to /predict in batches; remember each inference_id's true label.

    Only rows the served contract accepts are sent (`signature`, the fields
    /model lists; read from the server when not given). Returns the rows the
    server scored.
    """
    records = _json_records(rows)
    sent = 0
    truth_file.parent.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=url, timeout=30) as client:
        fields = signature if signature is not None else _served_fields(client, url)
        keep = _accepted(records, fields)
        with truth_file.open("a", newline="") as out:
            writer = csv.writer(out)
            for start in range(0, len(keep), batch):
                chunk = keep[start : start + batch]
                answers = _post(client, url, [records[i] for i in chunk])
                for index, answer in zip(chunk, answers, strict=True):
                    if "inference_id" not in answer:  # refused by the server
                        continue
                    writer.writerow([answer["inference_id"], truth.iloc[index]])
                    sent += 1
    if sent < len(keep):
        log.warning(
            "the server refused %d of the rows sent (it scored the others)",
            len(keep) - sent,
        )
    return sent


def _json_records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON carries them: gaps as null, date-times as ISO 8601 text."""
    plain = rows.astype(object).where(rows.notna(), None)
    for name in plain.columns:
        if pd.api.types.is_datetime64_any_dtype(rows[name]):
            plain[name] = plain[name].map(
                lambda v: v.isoformat() if isinstance(v, pd.Timestamp) else v
            )
    return plain.to_dict(orient="records")


def _served_fields(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    try:
        fields = client.get("/model").json()["signature"]
    except httpx.TransportError as exc:
        raise DataError(
            f"cannot reach {url}: {exc}",
            "start the server with `mlopslab serve` or pass --url",
        ) from exc
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"cannot read the model from {url}/model: {exc}",
            "start it with `mlopslab serve`, or pass --url",
        ) from exc
    return list(fields)


def _accepted(records: list[dict[str, Any]], fields: list[dict[str, Any]]) -> list[int]:
    """The rows the served contract accepts; says why the others are left out."""
    keep, refused = [], []
    for index, record in enumerate(records):
        reason = refusal(record, fields)
        if reason is None:
            keep.append(index)
        else:
            refused.append((index, reason))
    if refused and not keep:
        index, reason = refused[0]
        raise DataError(
            f"the served model refuses all {len(records)} traffic rows (row "
            f"{index}, {reason}), so none was sent",
            "serve it without serve.strict_nulls (null is then imputed), or "
            "simulate traffic for a model whose contract fits its data",
        )
    if refused:
        index, reason = refused[0]
        log.warning(
            "left out %d of %d rows the served model would refuse (row %d, %s)",
            len(refused),
            len(records),
            index,
            reason,
        )
    return keep


def _post(client: httpx.Client, url: str, chunk: list[dict[str, Any]]) -> list[Any]:
    """One batch to /predict; its answers, one per row in order."""
    try:
        response = client.post("/predict", json={"rows": chunk})
    except httpx.TransportError as exc:
        raise DataError(
            f"cannot reach {url}: {exc}",
            "start the server with `mlopslab serve` or pass --url",
        ) from exc
    if response.status_code != 200:
        raise DataError(
            f"{url} answered {response.status_code}: {response.text[:200]}",
            "check the server and the data",
        )
    return list(response.json()["predictions"])


def simulated_labels(
    truth_file: Path,
    quality: float,
    rng: np.random.Generator,
) -> list[tuple[str, str]]:
    """Ground truth for every simulated row; a `1 - quality` share is made wrong.

    Rows the server has not committed yet are labelled too: labels join their
    captures by inference_id whenever both exist.
    """
    if not truth_file.exists():
        raise DataError(
            "no simulated traffic to label yet", "run `mlopslab simulate traffic` first"
        )
    with truth_file.open(newline="") as handle:
        known = [(row[0], row[1]) for row in csv.reader(handle) if row]
    classes = sorted({label for _, label in known})
    labels = []
    for inference_id, label in known:
        if rng.random() >= quality and len(classes) > 1:
            label = str(rng.choice([c for c in classes if c != label]))
        labels.append((inference_id, label))
    return labels
