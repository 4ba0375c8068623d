"""The PyTorch classifiers: scikit-learn's API, reproducible, and polite to torch."""

import math
import pickle
from collections.abc import Iterator
from typing import Any

import cloudpickle
import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_digits, make_classification
from sklearn.metrics import log_loss
from torch import nn

from mlopslab import neural
from mlopslab.neural import (
    PATIENCE,
    TorchCNNClassifier,
    TorchMLPClassifier,
    image_side,
)
from mlopslab.train import TORCH_FAMILIES, build_estimator

Data = tuple[np.ndarray, np.ndarray]
CLASSIFIERS = [TorchMLPClassifier, TorchCNNClassifier]
# Words whose sorted order is not the order the labels first appear in.
NAMES = np.array(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
)


@pytest.fixture(scope="module")
def digits() -> tuple[Data, Data]:
    """Training rows and held-out rows of digits, pixels on 0-1, labels as words."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    labels = NAMES[y]
    return (X[:300], labels[:300]), (X[1000:1200], labels[1000:1200])


@pytest.fixture(scope="module")
def fitted(
    digits: tuple[Data, Data],
) -> dict[type, neural._TorchClassifier]:
    """Each classifier fitted once on the digits rows (short, for speed)."""
    (X, y), _ = digits
    return {
        TorchMLPClassifier: TorchMLPClassifier(max_epochs=15).fit(X, y),
        TorchCNNClassifier: TorchCNNClassifier(channels=8, max_epochs=15).fit(X, y),
    }


@pytest.fixture
def torch_state() -> Iterator[None]:
    """Whatever a test does to torch's global settings is undone afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    rng = torch.get_rng_state()
    yield
    torch.set_rng_state(rng)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def small(cls: type, **params: Any) -> neural._TorchClassifier:
    """A classifier that trains in a fraction of a second on 300 digits."""
    if cls is TorchCNNClassifier:
        params.setdefault("channels", 8)
    model: neural._TorchClassifier = cls(max_epochs=5, **params)
    return model


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_follows_the_scikit_learn_api(
    cls: type, fitted: dict[type, neural._TorchClassifier], digits: tuple[Data, Data]
) -> None:
    model = fitted[cls]
    assert is_classifier(model)
    params = model.get_params()
    assert params["random_state"] == 0 and params["max_epochs"] == 15
    assert cls(**params).get_params() == params
    copy = clone(model)
    assert copy.get_params() == params
    assert not hasattr(copy, "module_") and not hasattr(copy, "classes_")
    assert copy.set_params(learning_rate=0.01).learning_rate == 0.01
    # Classes sorted, whatever order the labels came in.
    assert list(model.classes_) == sorted(NAMES)
    assert model.n_features_in_ == 64
    _, (X_test, y_test) = digits
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10) and proba.dtype == np.float64
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    predicted = model.predict(X_test)
    assert (predicted == model.classes_[proba.argmax(axis=1)]).all()
    assert (predicted == y_test).mean() > 0.7  # it learns, even in 15 epochs
    assert model.score(X_test, y_test) == (predicted == y_test).mean()


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_same_seed_same_probabilities_other_seed_others(
    cls: type, digits: tuple[Data, Data], torch_state: None
) -> None:
    (X, y), (X_test, _) = digits
    torch.set_num_threads(1)
    first = small(cls, random_state=3).fit(X, y).predict_proba(X_test)
    # Neither torch's global seed nor its thread count changes the result.
    torch.manual_seed(12345)
    torch.set_num_threads(3)
    again = small(cls, random_state=3).fit(X, y).predict_proba(X_test)
    assert np.array_equal(first, again)
    other = small(cls, random_state=4).fit(X, y).predict_proba(X_test)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_fit_leaves_torch_global_settings_alone(
    cls: type[neural._TorchClassifier],
    deterministic: bool,
    digits: tuple[Data, Data],
    monkeypatch: pytest.MonkeyPatch,
    torch_state: None,
) -> None:
    (X, y), _ = digits
    seen: set[tuple[int, bool]] = set()
    network = cls._network

    def watched(self: Any, n_features: int, n_classes: int) -> nn.Module:
        module: nn.Module = network(self, n_features, n_classes)
        module.register_forward_pre_hook(
            lambda *_: seen.add(
                (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
            )
        )
        return module

    monkeypatch.setattr(cls, "_network", watched)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(deterministic)
    torch.manual_seed(7)
    rng_before = torch.get_rng_state()
    small(cls).fit(X, y)
    # Training ran on one thread with deterministic algorithms ...
    assert seen == {(1, True)}
    # ... and the caller's settings and random stream are as they were.
    assert torch.get_num_threads() == 2
    assert torch.are_deterministic_algorithms_enabled() is deterministic
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_fit_keeps_the_callers_warn_only_setting(
    digits: tuple[Data, Data], torch_state: None
) -> None:
    (X, y), _ = digits
    torch.use_deterministic_algorithms(True, warn_only=True)
    small(TorchMLPClassifier).fit(X, y)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()


def test_early_stopping_stops_on_an_easy_problem_and_keeps_the_best() -> None:
    X, y = make_classification(
        n_samples=200,
        n_features=6,
        n_informative=3,
        n_redundant=0,
        flip_y=0.1,
        random_state=0,
    )
    model = TorchMLPClassifier(hidden_units=16, learning_rate=1e-2, max_epochs=300)
    model.fit(X, y)
    assert PATIENCE < model.n_epochs_ < 300
    assert len(model.epoch_seconds_) == model.n_epochs_
    assert all(s > 0 for s in model.epoch_seconds_)
    # The weights kept are the best epoch's: they score the validation share
    # at the loss recorded (float32 in torch, float64 here).
    _, val_x, _, val_y = neural._holdout(X.astype(np.float32), y, 0)
    kept = log_loss(val_y, model.predict_proba(val_x), labels=[0, 1])
    assert math.isclose(kept, model.validation_loss_, rel_tol=1e-4)
    capped = TorchMLPClassifier(max_epochs=3).fit(X, y)
    assert capped.n_epochs_ == len(capped.epoch_seconds_) == 3


@pytest.mark.parametrize("columns", [10, 63, 9])
def test_cnn_refuses_rows_that_are_not_a_square_image(
    columns: int, torch_state: None
) -> None:
    X = np.zeros((40, columns))
    y = np.arange(40) % 2
    torch.set_num_threads(2)
    with pytest.raises(ValueError, match=f"square images.*{columns} columns"):
        TorchCNNClassifier(max_epochs=1).fit(X, y)
    assert torch.get_num_threads() == 2  # restored on the way out of a failed fit
    assert not torch.are_deterministic_algorithms_enabled()


def test_cnn_takes_larger_images() -> None:
    assert image_side(64) == 8 and image_side(784) == 28
    rng = np.random.default_rng(0)
    X = rng.random((40, 16 * 16))  # two pooling steps: 16 -> 8 -> 4
    y = np.arange(40) % 3
    model = TorchCNNClassifier(channels=4, max_epochs=2).fit(X, y)
    assert model.predict_proba(X).shape == (40, 3)


def test_a_failed_fit_leaves_nothing_that_looks_fitted(
    digits: tuple[Data, Data], torch_state: None
) -> None:
    (X, y), _ = digits
    model = small(TorchCNNClassifier)
    with pytest.raises(ValueError, match="square images"):
        model.fit(X[:, :10], y)
    assert not hasattr(model, "classes_") and not hasattr(model, "module_")


def test_a_pytorch_failure_is_a_value_error(
    digits: tuple[Data, Data], torch_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (X, y), _ = digits

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise RuntimeError("DefaultCPUAllocator: not enough memory\nmore detail")

    monkeypatch.setattr(torch.optim.AdamW, "step", out_of_memory)
    with pytest.raises(ValueError, match=r"^PyTorch failed: DefaultCPUAllocator"):
        small(TorchMLPClassifier).fit(X, y)


def test_one_class_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two classes"):
        TorchMLPClassifier().fit(np.zeros((10, 2)), ["a"] * 10)


@pytest.mark.parametrize("cls", CLASSIFIERS)
@pytest.mark.parametrize("dumps", [cloudpickle.dumps, pickle.dumps])
def test_pickled_model_predicts_the_same(
    cls: type,
    dumps: Any,
    fitted: dict[type, neural._TorchClassifier],
    digits: tuple[Data, Data],
) -> None:
    _, (X_test, _) = digits
    model = fitted[cls]
    restored = pickle.loads(dumps(model))
    assert np.array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))
    assert (restored.predict(X_test) == model.predict(X_test)).all()
    assert restored.get_params() == model.get_params()


@pytest.mark.parametrize(
    ("family", "cls", "params"),
    [
        (
            "torch_mlp",
            TorchMLPClassifier,
            {"hidden_units": 32, "layers": 2, "dropout": 0.1},
        ),
        ("torch_cnn", TorchCNNClassifier, {"channels": 8, "dropout": 0.2}),
    ],
)
def test_train_builds_each_torch_family_with_the_seed(
    family: str, cls: type[neural._TorchClassifier], params: dict[str, Any]
) -> None:
    assert family in TORCH_FAMILIES
    estimator = build_estimator(family, params, 5, 1000)
    assert isinstance(estimator, cls) and type(estimator) is cls
    assert estimator.get_params() | params | {"random_state": 5} == (
        estimator.get_params()
    )
