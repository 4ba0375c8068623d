# A lint for the mistakes that turn a failing pipeline into a green build or lose its evidence.
cat > lint_workflow.py <<'PY'
import sys
import yaml

def problems(path):
    workflow = yaml.safe_load(open(path))
    out = []
    for name, job in workflow["jobs"].items():
        steps = job["steps"]
        gate = [s for s in steps if "mlopslab run" in s.get("run", "")]
        if not any("--fail-on-reject" in s["run"] for s in gate):
            out.append(f"{name}: no step runs mlopslab run --fail-on-reject")
        for step in steps:
            if "|| true" in step.get("run", "") and "mlopslab run" in step["run"]:
                out.append(f"{name}: '{step['name']}' hides the gate's exit code with || true")
            if step.get("uses", "").startswith("actions/upload-artifact"):
                if step.get("if") != "always()":
                    out.append(f"{name}: '{step['name']}' is skipped after a failure (no if: always())")
                if not step.get("with", {}).get("include-hidden-files"):
                    out.append(f"{name}: '{step['name']}' skips .mlopslab (no include-hidden-files)")
    return out

found = problems(sys.argv[1])
for problem in found:
    print("lint:", problem)
print(f"{sys.argv[1]}: {len(found)} problem(s)")
sys.exit(1 if found else 0)
PY
python lint_workflow.py .github/workflows/mlops-pipeline.yml

# Break a copy the two ways the lesson warns about, and the lint must say so.
python - <<'PY'
import yaml
workflow = yaml.safe_load(open(".github/workflows/mlops-pipeline.yml"))
for step in workflow["jobs"]["train-and-gate"]["steps"]:
    if step["name"] == "Train, evaluate and gate":
        step["run"] = "mlopslab run --fail-on-reject || true\n"
    if step.get("uses", "").startswith("actions/upload-artifact"):
        del step["if"], step["with"]["include-hidden-files"]
yaml.safe_dump(workflow, open("broken.yml", "w"), sort_keys=False)
PY
status=0
python lint_workflow.py broken.yml > lint.log || status=$?
cat lint.log
test "$status" -eq 1
grep -q "hides the gate's exit code with || true" lint.log
grep -q "no if: always()" lint.log
grep -q "no include-hidden-files" lint.log
grep -q "broken.yml: 3 problem(s)" lint.log
