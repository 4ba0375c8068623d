# Permutation importance by hand: shuffle columns alone, then two correlated ones together.
cat > shuffle.py <<'PY'
import glob
import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

golden = pd.read_parquet(glob.glob(".mlopslab/datasets/golden/*/v1.parquet")[0])
X, y = golden.drop(columns="species"), golden["species"]
mlflow.set_tracking_uri("sqlite:///.mlopslab/mlflow.db")
model = mlflow.sklearn.load_model("models:/penguins@champion")
base = log_loss(y, model.predict_proba(X), labels=model.classes_)
print(f"log loss on {len(X)} golden rows: {base:.4f}")

def importance(columns, repeats=5, seed=0):
    """Mean rise of the log loss when `columns` are shuffled with one row permutation."""
    rng = np.random.default_rng(seed)
    rises = []
    for _ in range(repeats):
        shuffled = X.copy()
        order = rng.permutation(len(X))
        shuffled[columns] = X[columns].to_numpy()[order]
        rises.append(log_loss(y, model.predict_proba(shuffled), labels=model.classes_) - base)
    return float(np.mean(rises))

scores = {}
for columns in (["bill_length_mm"], ["flipper_length_mm"], ["body_mass_g"],
                ["flipper_length_mm", "body_mass_g"]):
    scores[" + ".join(columns)] = importance(columns)
    print(f"  {' + '.join(columns):34} log loss {scores[' + '.join(columns)]:+.4f}")
print("Spearman flipper/body mass:", round(X["flipper_length_mm"].corr(X["body_mass_g"], method="spearman"), 2))

together = scores["flipper_length_mm + body_mass_g"]
assert scores["bill_length_mm"] > 2          # the column the model relies on most
assert scores["body_mass_g"] < 0.05          # alone: the other column stands in for it
assert together > 0.2 and together > 3 * (scores["flipper_length_mm"] + scores["body_mass_g"])
PY
python shuffle.py 2>&1 | grep -v "WARNING mlflow"
