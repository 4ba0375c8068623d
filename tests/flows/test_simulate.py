import json
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from mlopslab.config import DataConfig
from mlopslab.data import load_dataset, training_metadata
from mlopslab.errors import ConfigError
from mlopslab.flows.simulate import (
    UNSEEN,
    apply_drift,
    check_drift,
    parse_drift,
    simulated_labels,
)
from mlopslab.serving.schema import RowError, RowSchema
from mlopslab.stores.datasets import DatasetStore
from tests.conftest import Cli
from tests.servers import JsonHandler
from tests.test_cli import one_line_error

FRAME = pd.DataFrame({"x": np.arange(100, dtype=float), "c": ["a"] * 80 + ["b"] * 20})


@pytest.mark.parametrize(
    ("spec", "kind", "amount", "category"),
    [
        ("x:+15%", "shift_pct", 15.0, None),
        ("x:-2sd", "shift_sd", -2.0, None),
        ("x:*1.5", "scale", 1.5, None),
        ("c:b+30pp", "category", 0.3, "b"),
        ("c:missing=20%", "missing", 0.2, None),
        ("c:unseen=10%", "unseen", 0.1, None),
    ],
)
def test_parse(spec: str, kind: str, amount: float, category: str | None) -> None:
    parsed = parse_drift(spec)
    assert (parsed.kind, parsed.amount, parsed.category) == (kind, amount, category)


def test_bad_specs_are_config_errors() -> None:
    for spec in ("x", "x:+15", "x:sideways", ":+1sd"):
        with pytest.raises(ConfigError):
            parse_drift(spec)
    with pytest.raises(ConfigError, match="not a feature"):
        apply_drift(FRAME, parse_drift("y:+1sd"), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="not numeric"):
        apply_drift(FRAME, parse_drift("c:+1sd"), np.random.default_rng(0))


def test_each_drift_changes_only_its_column() -> None:
    rng = np.random.default_rng(0)
    shifted = apply_drift(FRAME, parse_drift("x:+10%"), rng)
    assert shifted["x"].mean() == pytest.approx(FRAME["x"].mean() * 1.1)
    assert shifted["c"].equals(FRAME["c"])
    sd = apply_drift(FRAME, parse_drift("x:+1sd"), rng)
    assert sd["x"].mean() == pytest.approx(FRAME["x"].mean() + FRAME["x"].std())
    share = apply_drift(FRAME, parse_drift("c:b+30pp"), rng)
    assert (share["c"] == "b").mean() == pytest.approx(0.5)
    missing = apply_drift(FRAME, parse_drift("c:missing=20%"), rng)
    assert missing["c"].isna().mean() == pytest.approx(0.2)
    unseen = apply_drift(FRAME, parse_drift("c:unseen=10%"), rng)
    assert (unseen["c"] == UNSEEN).mean() == pytest.approx(0.1)
    assert FRAME["c"].isna().sum() == 0  # the input is never modified


def test_labels_are_seeded_and_have_the_asked_quality(tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("".join(f"id{n},{'ab'[n % 2]}\n" for n in range(1000)))
    first = simulated_labels(truth, 0.9, np.random.default_rng(3))
    again = simulated_labels(truth, 0.9, np.random.default_rng(3))
    assert first == again
    right = sum(label == "ab"[n % 2] for n, (_, label) in enumerate(first))
    assert 0.87 < right / 1000 < 0.93


SIGNATURE = [
    {"name": "island", "kind": "string", "required": True},
    {"name": "bill_length_mm", "kind": "number", "required": False},
    {"name": "bill_depth_mm", "kind": "number", "required": False},
    {"name": "flipper_length_mm", "kind": "number", "required": False},
    {"name": "body_mass_g", "kind": "number", "required": False},
    {"name": "sex", "kind": "string", "required": False},
    {"name": "year", "kind": "integer", "required": True},
]

# The same fields as MLflow writes them, for the server's own validator.
MLFLOW_TYPES = {"string": "string", "number": "double", "integer": "long"}
SCHEMA = RowSchema.from_signature(
    [{**f, "type": MLFLOW_TYPES[str(f["kind"])]} for f in SIGNATURE]
)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "island:missing=20%",
            "penguins v1 refuses null in 'island' (it had no gaps in training); "
            "blank a column that may be null: bill_length_mm, bill_depth_mm, "
            "flipper_length_mm, body_mass_g, sex",
        ),
        ("year:missing=20%", "refuses null in 'year'"),
        ("island:+1sd", "'island' holds strings in penguins v1 and cannot be shifted"),
        ("sex:*1.2", "shift or scale a number column: bill_length_mm, bill_dep"),
        ("year:unseen=10%", "'year' holds numbers in penguins v1"),
        ("body_mass_g:5000+30pp", "use them on a string column: island, sex"),
        ("beak:+1sd", "drift column 'beak' is not a feature of penguins v1"),
    ],
)
def test_specs_the_model_would_refuse_are_refused_first(
    spec: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        check_drift(parse_drift(spec), SIGNATURE, "penguins v1")
    assert message in info.value.one_line()


@pytest.mark.parametrize(
    "spec",
    [
        "sex:missing=20%",
        "bill_length_mm:missing=5%",
        "year:+1sd",
        "body_mass_g:*1.2",
        "island:Dream+30pp",
        "sex:unseen=10%",
    ],
)
def test_specs_the_model_accepts_pass(spec: str) -> None:
    check_drift(parse_drift(spec), SIGNATURE, "penguins v1")


def test_shifted_integers_stay_whole() -> None:
    years = pd.DataFrame({"year": np.array([2007, 2008, 2009] * 10)})
    rng = np.random.default_rng(0)
    for spec in ("year:+1sd", "year:-0.3sd", "year:+0.01%", "year:*1.0003"):
        shifted = apply_drift(years, parse_drift(spec), rng)["year"]
        assert (shifted % 1 == 0).all(), spec
    assert (apply_drift(years, parse_drift("year:+1sd"), rng)["year"] >= 2008).all()


class FakeServer(JsonHandler):
    """/model as `mlopslab serve` describes penguins; /predict validates as it does."""

    posted: ClassVar[list[list[dict[str, Any]]]] = []
    card: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        self.reply(
            200,
            {
                "name": "penguins",
                "version": "1",
                "signature": SIGNATURE,
                "card": FakeServer.card,
            },
        )

    def do_POST(self) -> None:
        rows = json.loads(self.rfile.read(int(self.headers["content-length"])))
        FakeServer.posted.append(rows["rows"])
        try:
            SCHEMA.validate_rows(rows["rows"], 1000)
        except RowError as exc:
            self.reply(422, {"error": {"message": str(exc)}})
            return
        ids = [{"inference_id": f"i{n}"} for n in range(len(rows["rows"]))]
        self.reply(200, {"predictions": ids})


def recorded_datasets(folder: Path) -> dict[str, Any]:
    """A served card's golden and training records, with their files."""
    penguins = load_dataset(DataConfig(source="penguins"))
    store = DatasetStore(folder)
    test, rest = penguins.frame.iloc[:60], penguins.frame.iloc[60:]
    golden, _ = store.freeze(
        "penguins-k",
        test,
        test.iloc[:0],
        digest="d",
        source="penguins",
        target="species",
    )
    training = store.save_training(
        rest,
        "e" * 16,
        training_metadata(penguins, "penguins-k", "penguins"),
    )
    return {
        "data_source": "penguins",
        "target": "species",
        "golden": golden.to_dict(),
        "training": {"path": str(training)},
    }


@pytest.fixture
def fake_url(tmp_path: Path) -> Iterator[str]:
    FakeServer.posted = []
    FakeServer.card = recorded_datasets(tmp_path / "datasets")
    server = HTTPServer(("127.0.0.1", 0), FakeServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_traffic_with_a_refused_spec_sends_nothing(
    cli: Cli, fake_url: str, isolated: Path
) -> None:
    args = ("simulate", "traffic", "--url", fake_url, "--home", isolated / "ws")
    refused = cli(*args, "--drift", "sex:missing=20%", "--drift", "island:missing=20%")
    assert refused.code == 2
    assert one_line_error(refused.err).startswith(
        "error: penguins v1 refuses null in 'island'"
    )
    assert FakeServer.posted == []
    assert not (isolated / "ws" / "simulations" / "truth.csv").exists()
    shifted = cli(*args, "--n", "40", "--drift", "year:+1sd")
    assert shifted.code == 0, shifted.err
    years = [row["year"] for batch in FakeServer.posted for row in batch]
    assert len(years) == 40 and all(float(y).is_integer() for y in years)


# Traffic rows: the held-out pool first, then synthesised; never a row a model
# trained on or is tested on.


def penguin_parts() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Penguins cut as a first run with a pool cuts them: pool, training, golden."""
    frame = load_dataset(DataConfig(source="penguins")).frame
    return frame.iloc[:30], frame.iloc[30:280], frame.iloc[280:]


def shared_rows(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Rows of `a` equal to a row of `b` (pandas' merge: NaN meets NaN)."""
    return len(a.drop_duplicates().merge(b.drop_duplicates(), how="inner"))


SYNTHESISED = (
    "rows synthesised from the training rows (each value, with probability 0.3, "
    "from another row of the same class), none equal to a training or golden row"
)


def test_traffic_takes_pool_rows_first_each_once() -> None:
    from mlopslab.flows.simulate import production_rows

    pool, training, golden = penguin_parts()
    rows, how = production_rows(pool, training, golden, 20, np.random.default_rng(0))
    assert how == "20 rows from the held-out pool"
    assert len(rows) == 20 and shared_rows(rows, pool) == 20
    assert not rows.duplicated().any()
    rows, how = production_rows(pool, training, golden, 50, np.random.default_rng(0))
    assert how == f"30 rows from the held-out pool, then 20 {SYNTHESISED}"
    assert len(rows) == 50
    drawn, made = rows.iloc[:30], rows.iloc[30:]
    assert shared_rows(drawn, pool) == 30 and not drawn.duplicated().any()
    assert shared_rows(made, pd.concat([training, golden])) == 0


def test_synthesised_rows_keep_each_columns_values_within_their_class() -> None:
    from mlopslab.flows.simulate import production_rows

    _, training, golden = penguin_parts()
    empty = training.iloc[:0]
    rows, how = production_rows(
        empty, training, golden, 200, np.random.default_rng(1), "species"
    )
    assert how == f"200 {SYNTHESISED}"
    assert len(rows) == 200 and list(rows.columns) == list(training.columns)
    assert rows.dtypes.equals(training.dtypes)
    assert shared_rows(rows, pd.concat([training, golden])) == 0
    # Every value is one that rows of the same species hold in training.
    for species, made in rows.groupby("species"):
        own = training[training["species"] == species]
        for name in training.columns:
            seen = set(own[name].astype(str))
            assert set(made[name].astype(str)) <= seen, (species, name)
    again, _ = production_rows(
        empty, training, golden, 200, np.random.default_rng(1), "species"
    )
    pd.testing.assert_frame_equal(rows, again)


def test_synthesised_traffic_keeps_each_columns_distribution() -> None:
    """Clean synthesised traffic must not look drifted: a KS test per column."""
    from scipy.stats import ks_2samp

    from mlopslab.flows.simulate import production_rows

    _, training, golden = penguin_parts()
    rows, _ = production_rows(
        training.iloc[:0], training, golden, 500, np.random.default_rng(2), "species"
    )
    for name in ("bill_length_mm", "flipper_length_mm", "body_mass_g"):
        assert ks_2samp(rows[name].dropna(), training[name].dropna()).pvalue > 0.01


def test_synthesised_whole_numbers_are_never_a_training_or_golden_row() -> None:
    from mlopslab.flows.simulate import production_rows

    # Jittered and rounded, about half of these would land on a known row.
    grid = [(a, b) for a in range(0, 20, 2) for b in range(0, 20, 2)]
    training = pd.DataFrame(
        {
            "a": [a for a, _ in grid],
            "b": [b for _, b in grid],
            "y": ["p" if a < 10 else "q" for a, _ in grid],
        }
    )
    golden = training.assign(a=training["a"] + 1)
    rows, _ = production_rows(
        training.iloc[:0], training, golden, 100, np.random.default_rng(0)
    )
    assert len(rows) >= 90
    assert rows["a"].dtype == rows["b"].dtype == np.int64
    assert shared_rows(rows, pd.concat([training, golden])) == 0


def test_synthesis_that_cannot_make_new_rows_says_so() -> None:
    from mlopslab.errors import DataError
    from mlopslab.flows.simulate import production_rows

    training = pd.DataFrame(
        {"c": list("abcd") * 10, "d": list("xy") * 20, "y": ["p", "q"] * 20}
    )
    try:
        rows, how = production_rows(
            training.iloc[:0], training, training.iloc[:0], 50, np.random.default_rng(0)
        )
    except DataError:
        return  # refusing, and saying why, is honest too
    assert len(rows) == 50, how


def test_traffic_rows_come_from_the_served_cards_datasets(tmp_path: Path) -> None:
    from mlopslab.flows.simulate import traffic_rows

    frame = load_dataset(DataConfig(source="penguins")).frame
    card = recorded_datasets(tmp_path / "datasets")  # golden: the first 60 rows
    rows, how = traffic_rows(card, 40, np.random.default_rng(0))
    assert how == f"40 {SYNTHESISED}"
    assert len(rows) == 40 and shared_rows(rows, frame) == 0
    store = DatasetStore(tmp_path / "pooled")
    golden, _ = store.freeze(
        "k",
        frame.iloc[:60],
        frame.iloc[60:90],
        digest="d",
        source="penguins",
        target="species",
    )
    pooled = {**card, "golden": golden.to_dict()}
    rows, how = traffic_rows(pooled, 10, np.random.default_rng(0))
    assert how == "10 rows from the held-out pool"
    assert shared_rows(rows, frame.iloc[60:90]) == 10


def test_traffic_for_a_model_without_dataset_records_is_refused() -> None:
    from mlopslab.errors import DataError
    from mlopslab.flows.simulate import traffic_rows

    with pytest.raises(DataError) as info:
        traffic_rows(
            {"data_source": "penguins", "target": "species"},
            10,
            np.random.default_rng(0),
        )
    assert "does not record its training rows and golden test set" in (
        info.value.one_line()
    )


def test_simulate_traffic_says_where_its_rows_came_from(
    cli: Cli, fake_url: str, isolated: Path
) -> None:
    sent = cli(
        "simulate", "traffic", "--url", fake_url, "--n", "30",
        "--home", isolated / "ws",
    )  # fmt: skip
    assert sent.code == 0, sent.err
    assert f"sent 30 rows to {fake_url}: 30 {SYNTHESISED}" in sent.out
    posted = pd.DataFrame([row for batch in FakeServer.posted for row in batch])
    assert len(posted) == 30
    frame = load_dataset(DataConfig(source="penguins")).frame
    features = frame.drop(columns="species")
    assert shared_rows(posted[features.columns].astype(features.dtypes), features) == 0
