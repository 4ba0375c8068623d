# The gate's majority line, recomputed row by row on the golden test set.
cat > paired.py <<'PY'
import glob
import mlflow, pandas as pd
from scipy.stats import binomtest

def mcnemar(b, c):
    """Exact McNemar: b wins against c losses, as a two-sided binomial test."""
    return 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue

golden = pd.read_parquet(glob.glob(".mlopslab/datasets/golden/*/v1.parquet")[0])
truth = golden["species"].to_numpy()
mlflow.set_tracking_uri("sqlite:///.mlopslab/mlflow.db")
champion = mlflow.pyfunc.load_model("models:/penguins@champion")
model_right = champion.predict(golden.drop(columns="species")) == truth
adelie_right = truth == "Adelie"
b = int((model_right & ~adelie_right).sum())  # champion right, "always Adelie" wrong
c = int((~model_right & adelie_right).sum())  # the reverse
p = mcnemar(b, c)
print(f"{len(golden)} golden rows: b = {b}, c = {c}, p = {p:.3g}")
assert len(golden) == 69 and (b, c) == (39, 1)
assert f"{p:.3g}" == "7.46e-11"

# The lesson's claims: 2 wins and no loss give p = 0.5; how many are needed for p < 0.05?
assert mcnemar(2, 0) == 0.5
needed = next(k for k in range(1, 70) if mcnemar(k, 0) < 0.05)
print("one-sided wins needed for p < 0.05:", needed, f"(p = {mcnemar(needed, 0):.4f})")
assert needed == 6
PY
python paired.py
