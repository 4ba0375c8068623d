from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlopslab.errors import ConfigError
from mlopslab.flows.simulate import UNSEEN, apply_drift, parse_drift, simulated_labels

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
