# Lose the file: from now on the run's config.json is the only record.
mv mlopslab.toml lost.toml
mlopslab config show > defaults.json  # no file, no variables: the built-in defaults
python - <<'PY' > settings.txt
import glob, json

def leaves(tree, prefix=""):
    """Each setting as a dotted key, e.g. tune.trials."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value

record = dict(leaves(json.load(open(glob.glob(".mlopslab/runs/*/config.json")[0]))))
defaults = dict(leaves(json.load(open("defaults.json"))))
for key, value in record.items():
    if defaults.get(key) != value:
        print(key, value)
PY
cat settings.txt
test "$(cat settings.txt)" = "$(printf 'seed 7\ntune.trials 4')"
# The two differences, as flags, in a new workspace.
mlopslab run --home ws-rebuild --seed 7 --trials 4 > rebuild.log 2>&1
sha256sum .mlopslab/artifacts/models/*/artifacts/model.pkl \
  ws-rebuild/artifacts/models/*/artifacts/model.pkl | tee hashes.txt
test "$(cut -d' ' -f1 hashes.txt | sort -u | wc -l)" -eq 1
cmp .mlopslab/runs/*/evaluation.json ws-rebuild/runs/*/evaluation.json
