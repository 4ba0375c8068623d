# Dropout is on in training mode: the same rows, different probabilities each time.
cat > dropout.py <<'PY'
import mlflow
import numpy as np
import torch

from parity import champion_and_test_rows

_, split = champion_and_test_rows()  # the gate's 69 test rows
v2 = mlflow.sklearn.load_model("models:/penguins/2")
pre, model = v2.named_steps["preprocess"], v2.named_steps["model"]
X = pre.transform(split.X_test)
features = torch.from_numpy(X.astype(np.float32))
net = model.module_


def proba():
    with torch.no_grad():
        return torch.softmax(net(features).double(), dim=1).numpy()


def accuracy(p):
    return (model.classes_[p.argmax(axis=1)] == split.y_test.to_numpy()).mean()


torch.manual_seed(0)
net.train()  # the mistake: dropout switched on
first, second = proba(), proba()
net.eval()
third, fourth = proba(), proba()
served = model.predict_proba(X)
print(f"train mode: two passes differ by up to {abs(first - second).max():.3f}; "
      f"accuracy {accuracy(first):.4f}, then {accuracy(second):.4f}")
print(f"eval mode: two passes differ by {abs(third - fourth).max():.1e}; "
      f"gap to predict_proba {abs(third - served).max():.1e}; accuracy {accuracy(third):.4f}")
assert abs(first - second).max() > 1e-3  # dropout draws a different mask each pass
assert (third == fourth).all() and abs(third - served).max() < 1e-12
assert f"{accuracy(third):.4f}" == "0.9855"  # what the gate measured for v2
PY
python dropout.py
