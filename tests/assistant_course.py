"""A small course and golden set for the assistant's tests (the real one takes
seconds more to evaluate, and other people edit its lessons)."""

from __future__ import annotations

from pathlib import Path

LESSON_DATA = """---
id: 1-data
title: Data
---

# Data

## Why this matters

Every model learns from rows someone collected. Bad rows make a bad model.

## Principles

- A stratified split keeps each class's share the same in every part, so a rare
  class cannot vanish from the test set.
- Data leakage lets information about the test rows reach training, and the
  scores then look better than they are.

```text
## Not a section: output shown in the lesson
```

```bash run
mlopslab run --trials 4
```
"""

LESSON_EVALUATION = """---
id: 3-evaluation
title: Evaluation
---

# Evaluation

## Principles

The McNemar test looks only at the rows where one model is right and the other
wrong. A rejection by the gate is a result, not a crash: the run exits 3 with
--fail-on-reject.

## Common mistakes

Comparing against a score measured on other rows.
"""

GLOSSARY = """terms:
  - term: data drift
    definition: >-
      A change in the distribution of a model's input features between the
      baseline and live traffic.
    module: 6-monitoring
  - term: golden test set
    definition: >-
      A test set frozen once and reused, so that every later run is scored
      on the same rows.
    module: 3-evaluation
  - term: champion
    definition: The model version currently approved for production, which serving uses.
    module: 4-registry
"""

GOLDEN = """questions:
  - id: drift
    question: What is data drift?
    sources: [glossary#data-drift]
    keywords: [distribution]
  - id: golden
    question: What is a golden test set?
    sources: [glossary#golden-test-set]
    keywords: [frozen, same rows]
  - id: stratified
    question: Why use a stratified split?
    sources: [1-data#principles]
    keywords: [share]
  - id: mcnemar
    question: Which rows does the McNemar test look at?
    sources: [3-evaluation#principles]
    keywords: [right, wrong]
  - id: bread
    question: How long should sourdough bread proof?
    out_of_scope: true
  - id: capital
    question: What is the capital of Australia?
    out_of_scope: true
"""


def make_course(root: Path) -> Path:
    """Write the small course under `root`; its golden set is `root/golden.yaml`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "course.yaml").write_text(
        "title: t\nmodules:\n  - id: 1-data\n  - id: 3-evaluation\n", encoding="utf-8"
    )
    for module, text in (("1-data", LESSON_DATA), ("3-evaluation", LESSON_EVALUATION)):
        (root / module).mkdir(exist_ok=True)
        (root / module / "lesson.md").write_text(text, encoding="utf-8")
    (root / "glossary.yaml").write_text(GLOSSARY, encoding="utf-8")
    (root / "golden.yaml").write_text(GOLDEN, encoding="utf-8")
    return root
