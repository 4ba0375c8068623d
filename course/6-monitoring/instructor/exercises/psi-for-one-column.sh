# Prediction: body mass switches to PSI and still drifts (a 1 sd shift is far
# past 0.2). The six features left to the p-value tests are now a family of
# six, not seven, so their Benjamini-Hochberg adjusted values move too.
cat > mlopslab.toml <<'TOML'
[monitor.columns.body_mass_g]
method = "psi"
threshold = 0.2
TOML
code=0
mlopslab monitor --last 300 > psi.log || code=$?
cat psi.log
test "$code" = 1
grep -Eq '^  body_mass_g +psi .*DRIFT$' psi.log
latest=$(ls -d .mlopslab/monitoring/*/ | tail -1)
python3 - "$latest/result.json" <<'PY'
import json, sys
features = {f["feature"]: f for f in json.load(open(sys.argv[1]))["drift"]["features"]}
mass = features.pop("body_mass_g")
assert mass["method"] == "psi" and mass["status"] == "drift", mass
assert mass["statistic"] > 0.2 and mass.get("adjusted_p_value") is None, mass
assert {f["method"] for f in features.values()} == {"ks", "chi2"}
# Six tests now: the largest raw p-value (bill length, 0.992) is the smallest
# k-th product, and the running minimum hands it to every feature.
largest = max(f["p_value"] for f in features.values())
for name, f in features.items():
    print(f"{name:<18} adjusted p {f['adjusted_p_value']:.4f}")
    assert abs(f["adjusted_p_value"] - largest) < 1e-12, name
PY
