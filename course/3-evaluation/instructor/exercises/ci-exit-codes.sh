# A CI step that tells "rejected" (3) from "broken" (anything else but 0).
cat > release.sh <<'SH'
#!/usr/bin/env bash
status=0
mlopslab run --trials 4 --fail-on-reject "$@" || status=$?
case "$status" in
  0) echo "RELEASE: the gate approved the model" ;;
  3) echo "REJECTED: the gate said no:"
     run=$(ls -td .mlopslab/runs/*/ | sed -n 1p)
     python -c "import json, sys; [print('  -', c['check'] + ':', c['reason']) for c in json.load(open(sys.argv[1]))['gate']['checks'] if not c['passed']]" "$run/evaluation.json" ;;
  *) echo "BROKEN: the pipeline failed with exit code $status" ;;
esac
exit "$status"
SH
chmod +x release.sh

# mlopslab.toml still asks for +0.01 accuracy over the champion: a retrain is rejected.
status=0
./release.sh > rejected.log 2>&1 || status=$?
cat rejected.log
test "$status" -eq 3
grep -q "^REJECTED" rejected.log
grep -q "champion:min_absolute_change: accuracy 0.9855 vs champion v1 0.9855" rejected.log
# Only failed checks are listed: the majority-class floor passed.
if grep -q "majority_baseline" rejected.log; then echo "lists a passing check"; exit 1; fi

# A data problem is not a rejection: exit 4, and the step says "broken".
status=0
./release.sh --data nosuch.csv > broken.log 2>&1 || status=$?
cat broken.log
test "$status" -eq 4
grep -q "^BROKEN: the pipeline failed with exit code 4" broken.log
