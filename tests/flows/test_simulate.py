import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
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


class FakeServer(BaseHTTPRequestHandler):
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

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


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
