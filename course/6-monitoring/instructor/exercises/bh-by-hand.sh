# Benjamini-Hochberg by hand, on the raw p-values of step 3's window, checked
# against the adjusted values the monitor wrote.
latest=$(ls -d .mlopslab/monitoring/*/ | tail -1)
python3 - "$latest/result.json" <<'PY'
import json, sys
features = json.load(open(sys.argv[1]))["drift"]["features"]
tested = [f for f in features if f.get("p_value") is not None]
m = len(tested)
order = sorted(range(m), key=lambda i: tested[i]["p_value"])
adjusted = [0.0] * m
running = 1.0
for rank in range(m, 0, -1):                    # from the largest p-value down
    i = order[rank - 1]
    running = min(running, tested[i]["p_value"] * m / rank)
    adjusted[i] = running
for f, mine in zip(tested, adjusted):
    print(f"{f['feature']:<18} raw {f['p_value']:.3g}  mine {mine:.4g}  monitor {f['adjusted_p_value']:.4g}")
    assert abs(mine - f["adjusted_p_value"]) <= 1e-9 * max(mine, 1e-300), f["feature"]
raw = [f["feature"] for f in tested if f["p_value"] < 0.05]
kept = [f["feature"] for f, a in zip(tested, adjusted) if a < 0.05]
print("below 0.05 raw:", raw, "after correction:", kept)
assert kept == ["body_mass_g"] == raw
PY
