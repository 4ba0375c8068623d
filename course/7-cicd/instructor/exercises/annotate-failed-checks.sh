# Edit the workflow as text: yaml.safe_dump would write the `on` key back as `true`.
python - <<'PY'
path = ".github/workflows/mlops-pipeline.yml"
text = open(path).read()
step = '''      - name: Annotate the failed gate checks
        if: failure()
        shell: bash
        run: |
          run=$(ls -td .mlopslab/runs/*/ | sed -n 1p)
          python - "$run/evaluation.json" <<'EOF'
          import json, sys
          for check in json.load(open(sys.argv[1]))["gate"]["checks"]:
              if not check["passed"]:
                  print(f"::error title=Gate check failed::{check['reason']}")
          EOF

'''
anchor = "      - name: Registry after the run\n"
assert text.count(anchor) == 1
open(path, "w").write(text.replace(anchor, step + anchor))
PY

# The file still parses, and the new step comes right after the gate, only on failure.
python - <<'PY'
import yaml
workflow = yaml.safe_load(open(".github/workflows/mlops-pipeline.yml"))
steps = workflow["jobs"]["train-and-gate"]["steps"]
names = [s["name"] for s in steps]
at = names.index("Annotate the failed gate checks")
assert names[at - 1] == "Train, evaluate and gate", names
assert steps[at]["if"] == "failure()"
open("annotate.sh", "w").write(steps[at]["run"])
PY

# The newest run is section 4's rejection: one failed check, the threshold.
bash annotate.sh | tee annotations.txt
test "$(wc -l < annotations.txt)" -eq 1
grep -qx "::error title=Gate check failed::accuracy 0.9855 fails the threshold >= 0.999" annotations.txt
