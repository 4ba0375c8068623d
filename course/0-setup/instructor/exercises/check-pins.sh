cat > pins.py <<'PY'
"""Compare a model's pinned requirements with the versions installed here."""
import sys
from importlib.metadata import PackageNotFoundError, version

differ = 0
for line in open(sys.argv[1]).read().splitlines():
    name, _, pinned = line.strip().partition("==")
    if not pinned:
        continue
    try:
        installed = version(name)
    except PackageNotFoundError:
        installed = "not installed"
    same = installed == pinned
    differ += not same
    print(f"{'ok' if same else 'DIFFERS':<8}{name}: pinned {pinned}, installed {installed}")
sys.exit(1 if differ else 0)
PY
REQS=$(ls .mlopslab/artifacts/models/*/artifacts/requirements.txt)
# Prediction: 0 here (the model was built in this environment), 1 after one pin changes.
python pins.py "$REQS"
sed 's/^scikit-learn==.*/scikit-learn==1.5.0/' "$REQS" > drifted.txt
code=0
python pins.py drifted.txt > drifted.log || code=$?
cat drifted.log
test "$code" -eq 1
grep -q "^DIFFERS scikit-learn: pinned 1.5.0" drifted.log
test "$(grep -c '^ok' drifted.log)" -eq "$(($(grep -c '==' "$REQS") - 1))"
