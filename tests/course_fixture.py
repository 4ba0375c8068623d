"""A small, valid course written by tests, to break one piece at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LESSON = """---
id: {id}
title: {title}
core: {core}
objectives: [Explain the thing]
estimated_minutes: 10
tools: [mlopslab]
demos:
  - id: demo-{id}
    title: The demo
resources:
  - title: Rules of ML
    url: https://developers.google.com/machine-learning/guides/rules-of-ml
    why: Hard-won advice.
---
# {title}

Learn about [[data drift]] and [[champion|champions]].

```bash run
echo hello > greeting.txt
```

```bash run
test "$(cat greeting.txt)" = hello
```

```bash run expect-fail
echo "error: no such thing" >&2; exit 4
```

```text
error: no such thing
```
"""

QUIZ: dict[str, Any] = {
    "questions": [
        {
            "id": "pick-one",
            "type": "single",
            "prompt": "Which is the champion?",
            "options": ["the serving model", "a challenger", "the baseline"],
            "answer": 0,
            "explanation": "The champion serves.",
            "demo": None,
        },
        {
            "id": "pick-some",
            "type": "multiple",
            "prompt": "Which leak?",
            "options": ["fit on all data", "fit on train", "tune on test", "seed"],
            "answer": [0, 2],
            "explanation": "Anything that sees the test set leaks.",
        },
        {
            "id": "accuracy",
            "type": "numeric",
            "params": {"n": {"min": 100, "max": 400}, "wrong": {"min": 3, "max": 30}},
            "prompt": "A model gets {wrong} of {n} rows wrong. Accuracy?",
            "answer": "(n - wrong) / n",
            "tolerance": 0.005,
            "explanation": "Right over all.",
        },
        {
            "id": "name-it",
            "type": "text",
            "prompt": "What is a change in the inputs' distribution called?",
            "accept": ["data drift", "covariate (shift|drift)"],
            "explanation": "Data drift.",
        },
        {
            "id": "stages",
            "type": "order",
            "prompt": "Order the stages.",
            "items": ["data", "train", "evaluate", "register"],
            "explanation": "Data first.",
        },
        {
            "pool": "gate",
            "draw": 1,
            "questions": [
                {
                    "id": "gate-a",
                    "type": "single",
                    "prompt": "Gate A?",
                    "options": ["yes", "no"],
                    "answer": 1,
                    "explanation": "No.",
                },
                {
                    "id": "gate-b",
                    "type": "single",
                    "prompt": "Gate B?",
                    "options": ["yes", "no"],
                    "answer": 0,
                    "explanation": "Yes.",
                },
            ],
        },
    ]
}

GLOSSARY = {
    "terms": [
        {
            "term": "data drift",
            "definition": "Inputs change.",
            "module": "1-drift",
            "related": ["champion"],
        },
        {
            "term": "champion",
            "definition": "The serving model.",
            "module": "0-intro",
            "related": [],
        },
    ]
}


def write_course(root: Path) -> Path:
    modules = [("0-intro", "Introduction", True), ("1-drift", "Drift", False)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "course.yaml").write_text(
        yaml.safe_dump(
            {
                "title": "Test course",
                "modules": [{"id": m, "core": core} for m, _, core in modules],
            }
        )
    )
    (root / "glossary.yaml").write_text(yaml.safe_dump(GLOSSARY))
    (root / "capstone.md").write_text(
        "---\ntitle: Capstone\n---\n# Capstone\n\n- [ ] done\n"
    )
    for module, title, core in modules:
        folder = root / module
        (folder / "assignment").mkdir(parents=True)
        (folder / "lesson.md").write_text(
            LESSON.format(id=module, title=title, core=str(core).lower())
        )
        quiz = {"module": module, **QUIZ}
        quiz["questions"][0] = {**quiz["questions"][0], "demo": f"demo-{module}"}
        (folder / "quiz.yaml").write_text(yaml.safe_dump(quiz, sort_keys=False))
        (folder / "assignment" / "README.md").write_text(f"# Assignment {module}\n")
    return root
