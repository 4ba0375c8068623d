# A teammate in another folder, on the same server, with another model family.
export MLFLOW_TRACKING_URI=http://127.0.0.1:8780
MLOPSLAB_TUNE__FAMILIES='["logreg"]' mlopslab run --trials 4 --home teammate | tee teammate.log
# The gate saw the team's champion through the server, and the same 69 golden rows
# (frozen again, in the teammate's own workspace: sha256 783db3b657cd).
grep -q "accuracy 0.9855 vs champion v1 0.9855" teammate.log
grep -q "froze golden test set v1 for penguins: 69 rows (sha256 783db3b657cd)" teammate.log
grep -q "Registered penguins v2 status approved; champion: v2" teammate.log
test -d teammate/runs && test ! -e teammate/mlflow.db  # its run folder is local, its registry is not

# Nobody restarts the server: each worker polls the alias (every 5 s) and swaps on its own.
cat > versions.sh <<'SH'
rm -f version-*.json
seq 16 | xargs -P 8 -I{} curl -s -f -X POST http://127.0.0.1:8781/predict \
  -H 'content-type: application/json' -d @row.json -o 'version-{}.json'
python -c 'import glob, json; [print(json.load(open(p))["model_version"]) for p in glob.glob("version-*.json")]' \
  | sort | uniq -c
SH
for i in $(seq 30); do
  bash versions.sh > versions.txt
  if [ "$(awk '{print $2}' versions.txt)" = 2 ]; then break; fi
  sleep 1
done
cat versions.txt
test "$(awk '{print $1, $2}' versions.txt)" = "16 2"  # all 16 answers from v2, whichever worker
