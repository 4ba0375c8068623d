# Where does the 1e-7 come from: the float32 weights, or the float32 arithmetic?
cat > precision.py <<'PY'
import torch
from torch import nn

from parity import champion_and_test_rows, torch_proba
from port import ACTIVATIONS, to_torch


def to_torch64(mlp):
    """The same port with float64 layers: the weights are copied without rounding."""
    layers = []
    for i, (W, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        linear = nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(mlp.coefs_) - 1:
            layers.append(ACTIVATIONS[mlp.activation]())
    return nn.Sequential(*layers).eval()


def proba64(port, X):
    with torch.no_grad():
        return torch.softmax(port(torch.from_numpy(X)), dim=1).numpy()


pipe, split = champion_and_test_rows()
pre, mlp = pipe.named_steps["preprocess"], pipe.named_steps["model"]
X = pre.transform(split.X_test)  # float64, as scikit-learn computes
expected = mlp.predict_proba(X)
gaps = {
    "float32 weights, float32 arithmetic": abs(expected - torch_proba(to_torch(mlp), X)).max(),
    "float32 weights, float64 arithmetic": abs(expected - proba64(to_torch(mlp).double(), X)).max(),
    "float64 weights, float64 arithmetic": abs(expected - proba64(to_torch64(mlp), X)).max(),
}
for name, gap in gaps.items():
    print(f"{name}: max gap {gap:.1e}")
all32, rounded, all64 = gaps.values()
assert 1e-8 < all32 < 1e-5   # rounding: a tolerance of 1e-8 would fail a correct port
assert 1e-9 < rounded < 1e-5  # .double() after the copy keeps the rounded weights
assert all64 < 1e-12          # float64 all the way: the same function, digit for digit
PY
python precision.py
