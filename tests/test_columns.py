"""Column hygiene (columns.py) and what the pipeline does with its decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlopslab.columns import (
    ColumnReport,
    ColumnRules,
    DateParts,
    Decision,
    date_parts,
    inspect_columns,
)
from mlopslab.config import DataConfig
from mlopslab.data import build_dataset, load_dataset
from mlopslab.errors import DataError
from mlopslab.preprocess import MAX_CATEGORIES, build_preprocessor

ROWS = 600


def table(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """One column for each rule, and two it must leave alone."""
    rng = np.random.default_rng(seed)
    y = rng.choice(["yes", "no"], rows)
    stamps = pd.Timestamp("2023-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 24, rows), unit="h"
    )
    words = np.array(
        [
            "the",
            "quick",
            "brown",
            "fox",
            "jumps",
            "over",
            "a",
            "lazy",
            "dog",
            "in",
            "rain",
        ]
    )
    return pd.DataFrame(
        {
            "row": rng.permutation(rows) + 1000,  # counts rows up, shuffled
            "PassengerId": rng.choice(10**9, rows, replace=False),
            "user": [f"u{i:05d}" for i in rng.permutation(rows)],
            "ts": stamps.strftime("%Y-%m-%dT%H:%M:%S"),
            "const": "same",
            "notes": [" ".join(rng.choice(words, 9)) for _ in range(rows)],
            "label_code": np.where(y == "yes", 7, 3),
            "income": rng.choice(10**6, rows, replace=False),  # measured: kept
            "x": rng.normal(size=rows),
            "city": rng.choice([f"c{i}" for i in range(80)], rows),
            "y": y,
        }
    )


def test_each_rule_finds_its_column_and_says_why() -> None:
    report = inspect_columns(table(), "y", ColumnRules())
    found = {d.column: (d.action, d.reason) for d in report.decisions}
    assert found == {
        "row": ("dropped", "identifier"),
        "PassengerId": ("dropped", "identifier"),
        "user": ("dropped", "identifier"),
        "ts": ("expanded", "timestamp"),
        "const": ("dropped", "constant"),
        "notes": ("dropped", "free text"),
        "label_code": ("dropped", "copies the target"),
    }
    by_name = {d.column: d for d in report.decisions}
    assert by_name["user"].detail == "600 distinct values in 600 rows"
    assert by_name["const"].detail == "only 'same'"
    assert by_name["label_code"].detail == (
        "each of its 2 values is one class on 600 of 600 rows"
    )
    (dated,) = report.timestamps
    assert dated == DateParts(
        "ts", "%Y-%m-%dT%H:%M:%S", ("month", "day", "weekday", "hour")
    )
    # The copy of the target leads the line: it is the one that would have lied.
    assert report.summary().startswith("dropped label_code (copies the target), ")
    assert report.summary().endswith("; ts expanded (timestamp)")


def test_penguins_and_digits_need_no_decision() -> None:
    penguins = load_dataset(DataConfig())
    assert penguins.column_report == ColumnReport()
    assert penguins.notes == []
    from palmerpenguins import load_penguins

    assert list(penguins.frame.columns) == list(load_penguins().columns)
    # Images are never thinned: digits' always-blank corner pixels stay.
    digits = load_dataset(DataConfig(source="digits"))
    assert len(digits.schema.features) == 64 and digits.notes == []


def test_keep_and_drop_are_the_users_say() -> None:
    rules = ColumnRules(drop=("x",), keep=("user", "label_code"), timestamps="drop")
    report = inspect_columns(table(), "y", rules)
    found = {d.column: (d.action, d.reason) for d in report.decisions}
    assert found["x"] == ("dropped", "data.drop")
    assert found["user"] == ("kept", "identifier")
    assert found["label_code"] == ("kept", "copies the target")
    assert found["ts"] == ("dropped", "timestamp")
    assert not report.timestamps
    assert "user kept by data.keep (identifier)" in report.summary()
    with pytest.raises(DataError, match="both name x"):
        inspect_columns(table(), "y", ColumnRules(drop=("x",), keep=("x",)))
    with pytest.raises(DataError) as info:
        inspect_columns(table(), "y", ColumnRules(drop=("y", "nope")))
    assert info.value.message.startswith("data.drop names y, nope, not a feature")
    assert info.value.hint.startswith("choose from its feature columns: row, ")


def test_rows_checked_once_only_find_timestamps_again() -> None:
    report = inspect_columns(table(), "y", ColumnRules(detect=False))
    assert [d.column for d in report.decisions] == ["ts"]


def test_small_tables_and_strong_features_are_left_alone() -> None:
    rng = np.random.default_rng(5)
    small = pd.DataFrame(
        {
            "n": np.arange(40),  # all distinct, but 40 values say little
            "flag": ["a"] * 20 + ["b"] * 20,  # one class each, in 40 rows
            "y": ["p"] * 20 + ["q"] * 20,
        }
    )
    assert inspect_columns(small, "y", ColumnRules()) == ColumnReport()
    # A column that agrees with the target on most rows is a feature.
    y = rng.choice(["p", "q"], 1000)
    strong = np.where(rng.random(1000) < 0.97, y, np.where(y == "p", "q", "p"))
    frame = pd.DataFrame({"s": strong, "y": y})
    assert inspect_columns(frame, "y", ColumnRules()) == ColumnReport()
    # Columns of one value beside gaps are constant; all gaps too.
    gaps = pd.DataFrame(
        {"a": [None, 1.0] * 50, "b": [None] * 100, "y": ["p", "q"] * 50}
    )
    reasons = {
        d.column: d.detail for d in inspect_columns(gaps, "y", ColumnRules()).decisions
    }
    assert reasons == {"a": "only 1.0", "b": "no values"}


@pytest.mark.parametrize(
    ("values", "fmt", "parts"),
    [
        (["2024-03-04", "2024-05-17", "2023-12-31"], "%Y-%m-%d", None),
        (["13/04/2024 10:00", "02/05/2024 11:30", "28/12/2023 09:15"], None, None),
        (["Mar 4, 2024", "Jan 17, 2023", "Dec 1, 2024"], "%b %d, %Y", None),
        # A month has no day, weekday or hour to expand into.
        (["2024-03", "2023-05", "2024-12"], "%Y-%m", ("year", "month")),
    ],
)
def test_timestamps_in_the_formats_people_write(
    values: list[str], fmt: str | None, parts: tuple[str, ...] | None
) -> None:
    rows = values * 40
    frame = pd.DataFrame({"d": rows, "y": ["p", "q", "p"] * 40})
    report = inspect_columns(frame, "y", ColumnRules(detect=False))
    (dated,) = report.timestamps
    if fmt is not None:
        assert dated.format == fmt
    else:  # day first: the format that reads every value wins
        assert dated.format.startswith("%d/%m/%Y")
    assert "month" in dated.parts
    if parts is not None:
        assert dated.parts == parts


def test_text_that_is_not_a_date_is_not_a_timestamp() -> None:
    frame = pd.DataFrame(
        {
            "code": [f"A-{i}" for i in range(100)],
            "year": [str(2000 + i % 20) for i in range(100)],  # a year, no month
            "y": ["p", "q"] * 50,
        }
    )
    assert not inspect_columns(frame, "y", ColumnRules(detect=False)).timestamps


def test_date_parts_parse_the_raw_strings_a_request_sends() -> None:
    X = pd.DataFrame(
        {
            "ts": [
                "2024-03-04T10:30:00",
                "2024-03-05 11:00",  # another layout: parsed on its own
                "not a date",
                None,
            ]
        }
    )
    out = date_parts(X, ["%Y-%m-%dT%H:%M:%S"], [["month", "weekday", "hour"]])
    assert out.shape == (4, 3)
    assert out[0].tolist() == [3.0, 0.0, 10.0]
    assert out[1].tolist() == [3.0, 1.0, 11.0]
    assert np.isnan(out[2:]).all()


def test_the_model_takes_the_raw_timestamp_and_bounds_its_categories() -> None:
    frame = table(2000).drop(columns=["notes", "label_code", "const"])
    frame["city"] = [f"c{i % 400}" for i in range(2000)]  # 400 categories
    rules = ColumnRules(keep=("row", "PassengerId", "user"))
    data = build_dataset("t", "t.csv", frame, "y", rules=rules)
    assert [t.column for t in data.schema.timestamps] == ["ts"]
    preprocessor = build_preprocessor(data.schema).fit(data.X)
    names = list(preprocessor.get_feature_names_out())
    assert {"ts_month", "ts_day", "ts_weekday", "ts_hour"} <= set(names)
    # At most MAX_CATEGORIES one-hot columns per category column, whatever
    # its count: memory cannot grow with rows x categories.
    for column in ("city", "user"):
        assert sum(n.startswith(f"{column}_") for n in names) <= MAX_CATEGORIES
    assert len(names) < 4 * MAX_CATEGORIES
    model = Pipeline(
        [("preprocess", preprocessor), ("model", LogisticRegression(max_iter=200))]
    ).fit(data.X, data.y)
    # A request's row: strings, a timestamp in its raw form, unseen categories.
    row = data.X.head(1).copy()
    row["ts"], row["city"], row["user"] = "2024-06-01 08:00:00", "elsewhere", "new"
    assert model.predict_proba(row).shape == (1, 2)


def test_penguins_keep_the_plain_preprocessor() -> None:
    penguins = load_dataset(DataConfig())
    preprocessor = build_preprocessor(penguins.schema).fit(penguins.X)
    onehot = preprocessor.named_transformers_["categorical"].named_steps["onehot"]
    assert onehot.max_categories is None and onehot.handle_unknown == "ignore"
    assert "timestamps" not in preprocessor.named_transformers_


def test_the_report_travels_as_a_dict() -> None:
    report = ColumnReport(
        (Decision("id", "dropped", "identifier", "9 distinct values in 9 rows"),),
        (DateParts("ts", "%Y-%m-%d", ("year", "month")),),
    )
    assert ColumnReport.from_dict(report.to_dict()) == report
    assert ColumnReport.from_dict(None) == ColumnReport()
    # A later look at the same rows keeps the drops, and its own timestamps.
    later = ColumnReport(
        (Decision("ts", "expanded", "timestamp", "into year"),),
        (DateParts("ts", "%Y-%m-%d", ("year",)),),
    )
    assert report.then(later) == ColumnReport(
        (report.decisions[0], later.decisions[0]), later.timestamps
    )
    many = ColumnReport(
        tuple(Decision(f"c{i}", "dropped", "constant") for i in range(9))
    )
    assert many.summary() == (
        "dropped c0 (constant), c1 (constant), c2 (constant), c3 (constant), "
        "c4 (constant), c5 (constant) and 3 more (the model card lists them)"
    )
