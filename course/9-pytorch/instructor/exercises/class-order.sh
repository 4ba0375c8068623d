# The output contract travels with the weights: the class order goes into the file too.
cat > labelled_port.py <<'PY'
import numpy as np
import torch
from torch import nn

from parity import champion_and_test_rows
from port import to_torch

pipe, split = champion_and_test_rows()
pre, mlp = pipe.named_steps["preprocess"], pipe.named_steps["model"]
torch.save(
    {"state_dict": to_torch(mlp).state_dict(), "classes": [str(c) for c in mlp.classes_]},
    "penguins_port_labelled.pt",
)

# Elsewhere, later: tensors and a list of strings load with weights_only=True.
saved = torch.load("penguins_port_labelled.pt", weights_only=True)
print("classes in the file:", saved["classes"])
fresh = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
fresh.load_state_dict(saved["state_dict"])
fresh.eval()


def labels(port, classes, X):
    with torch.no_grad():
        columns = port(torch.from_numpy(X.astype(np.float32))).argmax(dim=1).numpy()
    return np.array([classes[k] for k in columns])


X = pre.transform(split.X_test)
expected = pipe.predict(split.X_test)
same = (labels(fresh, saved["classes"], X) == expected).sum()
print(f"labels from the file's classes: {same} of {len(X)} rows as the champion")
assert same == len(X) == 69

# The mistake: outputs mapped through a hand-written list, in another order.
by_hand = (labels(fresh, ["Gentoo", "Chinstrap", "Adelie"], X) == expected).sum()
chinstrap = (expected == "Chinstrap").sum()
print(f"labels from ['Gentoo', 'Chinstrap', 'Adelie']: {by_hand} of {len(X)} rows; Chinstrap rows: {chinstrap}")
assert by_hand == chinstrap == 14  # only the class that kept its place agrees
PY
python labelled_port.py
