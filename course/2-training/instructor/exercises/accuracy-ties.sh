cat > ties.py <<'PY'
import glob, json
from itertools import groupby

trials = json.load(open(glob.glob(".mlopslab/runs/*/tuning.json")[0]))
by_accuracy = sorted(trials, key=lambda t: (-t["cv_accuracy"], t["cv_log_loss"]))
groups = []
for accuracy, group in groupby(by_accuracy, key=lambda t: t["cv_accuracy"]):
    group = list(group)  # best log loss first within a tie
    groups.append([t["number"] for t in group])
    print(f"acc {accuracy:.4f}: trials {groups[-1]}, log loss "
          + ", ".join(f"{t['cv_log_loss']:.4f}" for t in group))
print("distinct accuracies", len(groups), "of", len(trials),
      "| distinct log losses", len({t["cv_log_loss"] for t in trials}))
json.dump(groups, open("ties.json", "w"))
PY
python ties.py
python - <<'PY'
import json
groups = json.load(open("ties.json"))
# Three MLPs share the top accuracy exactly; log loss still orders them.
assert groups[0] == [3, 6, 4], groups
assert groups[1] == [0, 5], groups
assert len(groups) == 5, "8 trials, only 5 different accuracies"
PY
