"""PyTorch classifiers that sit inside the scikit-learn Pipeline like any other.

`TorchMLPClassifier` (family `torch_mlp`) is a feed-forward network for
tabular rows; `TorchCNNClassifier` (family `torch_cnn`) a small convolutional
network for square images whose pixels arrive as one row. Both follow the
scikit-learn estimator API (`fit`, `predict_proba`, `classes_`), so the
preprocessing, the gate, the registry, `predict`, `serve` and `monitor` treat
them as they treat the other families.

Reproducible on the CPU: a seeded generator for weights and batches, one
thread (a sum split over more threads may round differently), deterministic
algorithms, and early stopping on a seeded, stratified validation share.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from torch import nn

# The share of the rows each fit holds out to decide when to stop.
VALIDATION_SHARE = 0.1
# Epochs without a better validation loss before training stops.
PATIENCE = 10


class _TorchClassifier(ClassifierMixin, BaseEstimator):
    """Training loop, early stopping and prediction shared by both networks."""

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    random_state: int

    def _network(self, n_features: int, n_classes: int) -> nn.Module:
        raise NotImplementedError

    def fit(self, X: Any, y: Any) -> _TorchClassifier:
        """Fitted attributes are set only once training has succeeded.

        PyTorch's own failures (out of memory, a bad shape) come back as
        ValueError, so tuning records them as one failed trial.
        """
        features = np.asarray(X, dtype=np.float32)
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        if len(classes) < 2:
            raise ValueError("a classifier needs at least two classes")
        try:
            with _reproducible(self.random_state) as generator:
                module = self._network(features.shape[1], len(classes))
                self._train(module, features, codes.astype(np.int64), generator)
        except RuntimeError as exc:
            raise ValueError(f"PyTorch failed: {str(exc).splitlines()[0]}") from exc
        self.classes_, self.n_features_in_ = classes, features.shape[1]
        return self

    def _train(
        self,
        module: nn.Module,
        features: np.ndarray,
        codes: np.ndarray,
        generator: torch.Generator,
    ) -> None:
        fit_x, val_x, fit_y, val_y = _holdout(features, codes, self.random_state)
        inputs, targets = torch.from_numpy(fit_x), torch.from_numpy(fit_y)
        valid_x, valid_y = torch.from_numpy(val_x), torch.from_numpy(val_y)
        optimizer = torch.optim.AdamW(
            module.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        loss_fn = nn.CrossEntropyLoss()
        best, best_state, waited = math.inf, _copy_state(module), 0
        self.epoch_seconds_: list[float] = []
        for _ in range(self.max_epochs):
            started = time.perf_counter()
            module.train()
            order = torch.randperm(len(inputs), generator=generator)
            for batch in order.split(self.batch_size):
                optimizer.zero_grad()
                loss_fn(module(inputs[batch]), targets[batch]).backward()
                optimizer.step()
            module.eval()
            with torch.inference_mode():
                loss = float(loss_fn(module(valid_x), valid_y))
            self.epoch_seconds_.append(time.perf_counter() - started)
            if loss < best - 1e-4:
                best, best_state, waited = loss, _copy_state(module), 0
            else:
                waited += 1
                if waited >= PATIENCE:
                    break
        module.load_state_dict(best_state)
        self.module_ = module.eval()
        self.n_epochs_ = len(self.epoch_seconds_)
        self.validation_loss_ = best

    def predict_proba(self, X: Any) -> np.ndarray:
        features = torch.from_numpy(np.asarray(X, dtype=np.float32))
        with torch.inference_mode():
            logits = self.module_(features).double()
        # Softmax in float64, so each row sums to one as log_loss expects.
        return np.asarray(torch.softmax(logits, dim=1).numpy())

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])


class TorchMLPClassifier(_TorchClassifier):
    """Linear layers with ReLU and dropout between them, softmax at the end."""

    def __init__(
        self,
        hidden_units: int = 64,
        layers: int = 1,
        dropout: float = 0.1,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        max_epochs: int = 100,
        batch_size: int = 64,
        random_state: int = 0,
    ) -> None:
        self.hidden_units = hidden_units
        self.layers = layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _network(self, n_features: int, n_classes: int) -> nn.Module:
        parts: list[nn.Module] = []
        width = n_features
        for _ in range(self.layers):
            parts += [
                nn.Linear(width, self.hidden_units),
                nn.ReLU(),
                nn.Dropout(self.dropout),
            ]
            width = self.hidden_units
        parts.append(nn.Linear(width, n_classes))
        return nn.Sequential(*parts)


class TorchCNNClassifier(_TorchClassifier):
    """Two 3x3 convolutions and a pooling step (two on images of 16 pixels or
    more a side), then one hidden linear layer: small enough to train on two
    cores in seconds, enough for digits and MNIST."""

    def __init__(
        self,
        channels: int = 16,
        dropout: float = 0.25,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        max_epochs: int = 60,
        batch_size: int = 64,
        random_state: int = 0,
    ) -> None:
        self.channels = channels
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _network(self, n_features: int, n_classes: int) -> nn.Module:
        side = image_side(n_features)
        c = self.channels
        parts: list[nn.Module] = [
            nn.Unflatten(1, (1, side, side)),
            nn.Conv2d(1, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        side //= 2
        if side >= 8:  # MNIST's 28 pixels: pool again, to 7x7
            parts += [nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            side //= 2
        parts += [
            nn.Flatten(),
            nn.Dropout(self.dropout),
            nn.Linear(2 * c * side * side, 64),
            nn.ReLU(),
            nn.Linear(64, n_classes),
        ]
        return nn.Sequential(*parts)


def image_side(n_features: int) -> int:
    """The side of a square image of `n_features` pixels."""
    side = math.isqrt(n_features)
    if side * side != n_features or side < 4:
        raise ValueError(
            f"torch_cnn needs square images of at least 4x4 pixels; "
            f"{n_features} columns are not one"
        )
    return side


def _holdout(
    features: np.ndarray, codes: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded validation share for early stopping, stratified where it can be."""
    counts = np.bincount(codes)
    stratify = (
        codes
        if counts.min() >= 2 and len(codes) * VALIDATION_SHARE >= len(counts)
        else None
    )
    parts = train_test_split(
        features,
        codes,
        test_size=VALIDATION_SHARE,
        stratify=stratify,
        random_state=seed,
    )
    return parts[0], parts[1], parts[2], parts[3]


def _copy_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@contextmanager
def _reproducible(seed: int) -> Iterator[torch.Generator]:
    """Seeded weights and batches on one thread, leaving the caller's settings."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield torch.Generator().manual_seed(seed)
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)
