"""`mlopslab predict` and `mlopslab labels add`: files in, files out, clear errors."""

import shutil
import socket
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from palmerpenguins import load_penguins

from mlopslab.stores.capture.record import CaptureRecord
from mlopslab.stores.capture.sqlite import SQLiteCaptureStore
from tests.conftest import Cli, CliResult
from tests.test_cli import one_line_error

pytestmark = pytest.mark.slow


@pytest.fixture
def home(trained_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(trained_home, copy)
    return copy


def predict(
    cli: Cli, home: Path, source: Path, target: Path, *options: str
) -> CliResult:
    """`mlopslab predict` from `source` into `target`."""
    return cli(
        "predict", "--home", home, "--input", source, "--output", target, *options
    )


WHOLE = ("--strict-nulls", "--on-bad-row", "refuse_batch")  # refuse as before


def test_predict_scores_csv_and_parquet(cli: Cli, home: Path, tmp_path: Path) -> None:
    raw = load_penguins()
    raw.drop(columns="species").to_csv(tmp_path / "new.csv", index=False)
    result = predict(cli, home, tmp_path / "new.csv", tmp_path / "scored.csv")
    assert result.code == 0, result.err
    assert "scored 344 rows with penguins v1" in result.out
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert len(scored) == 344
    assert {"prediction", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"} <= set(
        scored
    )
    assert (scored["prediction"] == raw["species"]).mean() > 0.95
    raw.drop(columns="species").to_parquet(tmp_path / "new.parquet")
    assert (
        predict(cli, home, tmp_path / "new.parquet", tmp_path / "scored.parquet").code
        == 0
    )
    assert len(pd.read_parquet(tmp_path / "scored.parquet")) == 344


def test_predict_names_the_bad_row_and_writes_nothing(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    frame = load_penguins().drop(columns="species").head(10)
    frame["island"] = frame["island"].astype(object)
    frame.loc[6, "island"] = None
    frame.to_csv(tmp_path / "bad.csv", index=False)
    result = predict(cli, home, tmp_path / "bad.csv", tmp_path / "out.csv", *WHOLE)
    assert result.code == 4
    assert "row 6, field 'island': must not be null" in one_line_error(result.err)
    assert not (tmp_path / "out.csv").exists()
    extra = load_penguins().head(3)  # still has the target column
    extra.to_csv(tmp_path / "extra.csv", index=False)
    target = predict(cli, home, tmp_path / "extra.csv", tmp_path / "out.csv")
    assert target.code == 4 and one_line_error(target.err) == (
        f"error: {tmp_path / 'extra.csv'}: column 'species' is what penguins "
        "predicts, not a feature; drop the 'species' column and score again"
    )
    missing = predict(cli, home, tmp_path / "nope.csv", tmp_path / "out.csv")
    assert missing.code == 4 and "input not found" in one_line_error(missing.err)
    text = load_penguins().drop(columns="species").head(5)
    text["bill_length_mm"] = text["bill_length_mm"].astype(object)
    text.loc[3, "bill_length_mm"] = "long"  # pandas now reads the column as text
    text.to_csv(tmp_path / "text.csv", index=False)
    worded = predict(cli, home, tmp_path / "text.csv", tmp_path / "out.csv", *WHOLE)
    assert "row 3, field 'bill_length_mm': must be a number, got str" in (
        one_line_error(worded.err)
    )
    assert not (tmp_path / "out.csv").exists()


def test_predict_scores_the_good_rows_and_names_the_bad_ones(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    frame = load_penguins().drop(columns="species").head(10).astype(object)
    frame.loc[2, "island"] = None  # never missing in training: imputed
    frame.loc[4, "bill_length_mm"] = "long"
    frame.loc[7, "year"] = 2008.5
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    result = predict(cli, home, tmp_path / "mixed.csv", tmp_path / "out.csv")
    assert result.code == 0, result.err
    assert "scored 8 rows with penguins v1" in result.out
    assert result.err.strip() == (
        "refused 2 rows (the 'error' column says why; the first: row 4, field "
        "'bill_length_mm': must be a number, got str)"
    )
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == 10 and out["prediction"].notna().sum() == 8
    assert out["error"].dropna().to_dict() == {
        4: "field 'bill_length_mm': must be a number, got str",
        7: "field 'year': must be a whole number",
    }
    strict = predict(
        cli, home, tmp_path / "mixed.csv", tmp_path / "out.csv", "--strict-nulls"
    )
    assert "refused 3 rows" in strict.err
    assert pd.read_csv(tmp_path / "out.csv")["error"][2] == (
        "field 'island': must not be null (it had no gaps in training; "
        "serve.strict_nulls)"
    )
    frame["year"] = "soon"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    none = predict(cli, home, tmp_path / "bad.csv", tmp_path / "none.csv")
    assert none.code == 4 and one_line_error(none.err).startswith(
        f"error: {tmp_path / 'bad.csv'}: every row was refused (10 rows); the "
        "first: row 0, field 'year': must be a number, got str"
    )
    assert not (tmp_path / "none.csv").exists()
    wrong = predict(
        cli, home, tmp_path / "mixed.csv", tmp_path / "x.csv", "--on-bad-row", "skip"
    )
    assert wrong.code == 2 and "serve.on_bad_row" in one_line_error(wrong.err)


def test_labels_add_matches_captures(cli: Cli, home: Path, tmp_path: Path) -> None:
    store = SQLiteCaptureStore(home / "capture.db")
    store.write(
        [
            CaptureRecord(f"id{n}", 1.0, "penguins", "1", {}, "Adelie", {})
            for n in range(3)
        ]
    )
    store.close()
    (tmp_path / "labels.csv").write_text(
        "inference_id,label\nid0,Adelie\nid2,Gentoo\nzz,Adelie\n"
    )
    result = cli("labels", "add", tmp_path / "labels.csv", "--home", home)
    assert result.code == 0 and result.out == (
        "3 labels stored; 2 match captured rows, 1 does not (a wrong inference_id, "
        "or a request that was not captured)\n"
    )
    (tmp_path / "bad.csv").write_text("id,label\nx,y\n")
    bad = cli("labels", "add", tmp_path / "bad.csv", "--home", home)
    assert bad.code == 4 and "lacks columns ['inference_id']" in one_line_error(bad.err)


def test_serve_refuses_clearly(cli: Cli, home: Path, isolated: Path) -> None:
    (isolated / "empty").mkdir()
    nothing = cli("serve", "--home", isolated / "empty")
    assert nothing.code == 5 and "no registered models yet" in one_line_error(
        nothing.err
    )
    version = cli("serve", "--home", home, "--model", "9")
    assert version.code == 5 and "no version '9'" in one_line_error(version.err)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = cli("serve", "--home", home, "--port", port)
    assert taken.code == 2 and f"cannot listen on 127.0.0.1:{port}" in one_line_error(
        taken.err
    )
    rate = cli("serve", "--home", home, "--capture-rate", "1.5")
    assert rate.code == 2 and "serve.capture_rate" in one_line_error(rate.err)


def test_predict_blames_a_wrong_column_on_the_column(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    frame = load_penguins().drop(columns="species").head(5)
    frame.assign(row_id=range(5)).to_csv(tmp_path / "extra.csv", index=False)
    extra = predict(cli, home, tmp_path / "extra.csv", tmp_path / "out.csv")
    assert extra.code == 4
    assert "extra.csv: unknown column 'row_id'; penguins v1 takes ['island'," in (
        one_line_error(extra.err)
    )
    assert one_line_error(extra.err).endswith("; drop or rename it and score again")
    frame.drop(columns=["year", "sex"]).to_csv(tmp_path / "short.csv", index=False)
    short = predict(cli, home, tmp_path / "short.csv", tmp_path / "out.csv")
    assert short.code == 4
    assert "short.csv: no columns 'sex', 'year'; penguins v1 takes" in (
        one_line_error(short.err)
    )
    assert "row 0" not in short.err + extra.err
    assert not (tmp_path / "out.csv").exists()


def test_labels_matching_nothing_are_refused_and_not_stored(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    store = SQLiteCaptureStore(home / "capture.db")
    store.write([CaptureRecord("id0", 1.0, "penguins", "1", {}, "Adelie", {})])
    store.close()
    (tmp_path / "labels.csv").write_text("inference_id,label\nzz,Adelie\nyy,Gentoo\n")
    result = cli("labels", "add", tmp_path / "labels.csv", "--home", home)
    assert result.code == 4 and result.out == ""
    assert one_line_error(result.err) == (
        f"error: no label in {tmp_path / 'labels.csv'} matches a captured "
        "inference_id (2 checked); nothing was stored; use the inference_id "
        "values the server answered with, and check --home or --capture-url"
    )
    stored = sqlite3.connect(home / "capture.db").execute("SELECT * FROM labels")
    assert stored.fetchall() == []
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()  # a workspace without captures (a missing one is refused)
    wrong_home = cli("labels", "add", tmp_path / "labels.csv", "--home", elsewhere)
    assert wrong_home.code == 4
    assert f"no captured requests in {elsewhere} to label" in wrong_home.err
    assert not (elsewhere / "capture.db").exists()
