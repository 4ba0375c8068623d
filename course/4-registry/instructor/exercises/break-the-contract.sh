# Which inputs does the signature refuse before the model runs?
cat > contract.py <<'PY'
import mlflow
from mlflow.exceptions import MlflowException

mlflow.set_tracking_uri("sqlite:///.mlopslab/mlflow.db")
model = mlflow.pyfunc.load_model("models:/penguins@champion")
rows = model.input_example
cases = {
    "no island column": rows.drop(columns="island"),
    "body_mass_g as text": rows.assign(body_mass_g="heavy"),
    "an extra column": rows.assign(colour="blue"),
    "an island never seen": rows.assign(island="Atlantis"),
}
outcome = {}
for name, frame in cases.items():
    try:
        outcome[name] = "predicted " + str(model.predict(frame).tolist())
    except MlflowException as exc:
        outcome[name] = "refused: " + str(exc).rpartition("Error: ")[2]
    print(f"{name:22} {outcome[name]}")

# The signature checks names and types: a missing required column and a wrong type are refused.
assert outcome["no island column"].startswith("refused: Model is missing inputs ['island']")
assert outcome["body_mass_g as text"].startswith("refused: Incompatible input types for column body_mass_g")
# It does not check values or extra columns: those reach the model, which predicts anyway
# (the extra column is dropped; the unknown island is one-hot encoded as all zeros).
assert outcome["an extra column"].startswith("predicted")
assert outcome["an island never seen"].startswith("predicted")
PY
python contract.py 2>&1 | grep -v "WARNING mlflow"
