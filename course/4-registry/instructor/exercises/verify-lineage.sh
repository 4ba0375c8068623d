# Check the champion's lineage yourself instead of trusting the card.
cat > lineage.py <<'PY'
import json
import pandas as pd
from palmerpenguins import load_penguins
from mlopslab.data import fingerprint

shown = json.load(open("champion.json"))  # written by the block above
card = json.load(open(shown["model_card"].removesuffix(".md") + ".json"))
data = card["data"]

# The data source: the fingerprint of the penguins you can load yourself.
source = load_penguins()
print("source  ", fingerprint(source)[:16], "card", data["fingerprint"][:16])
assert fingerprint(source) == data["fingerprint"] == shown["tags"]["data_fingerprint"]

# The exact training rows: the file the card names, against its digest and the tag.
rows = pd.read_parquet(data["training"]["path"])
print("training", fingerprint(rows)[:16], "card", data["training"]["digest"][:16], len(rows), "rows")
assert fingerprint(rows) == data["training"]["digest"] == shown["tags"]["training_digest"]
assert len(rows) == data["training"]["rows"] == card["split_sizes"]["train"] + card["split_sizes"]["valid"]

# The rows it was scored on: the golden test set, against its digest and the tag.
golden = pd.read_parquet(data["golden"]["path"])
print("golden  ", fingerprint(golden)[:16], "card", data["golden"]["digest"][:16], len(golden), "rows")
assert fingerprint(golden) == data["golden"]["digest"]
assert shown["tags"]["golden_test_set"] == f"{data['golden']['key']} v{data['golden']['version']}"

# One body mass off by a gram: a different fingerprint, so a different lineage.
changed = source.copy()
changed.loc[0, "body_mass_g"] += 1
print("changed ", fingerprint(changed)[:16])
assert fingerprint(changed) != data["fingerprint"]
PY
python lineage.py
