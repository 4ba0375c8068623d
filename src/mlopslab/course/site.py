"""The course website: MkDocs Material, rendered from `course/` into the workspace.

Pages are generated (lessons with glossary links, quizzes without answers, the
glossary, resources), then `mkdocs build --strict` turns every broken link or
anchor into a failure. The site works from `file://`, offline: no web fonts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from mlopslab.course import exercises, syllabus
from mlopslab.course.content import Course, Module, Pool
from mlopslab.course.lessons import glossary_link, link_terms, strip_markers
from mlopslab.errors import CourseError

MARKER = ".mlopslab-course-site"


def build_site(course: Course, out: Path, solutions: bool = False) -> Path:
    """Write the MkDocs project into `out` and build it; return the index page.

    `solutions`: the instructor's build, with each exercise's solution.
    """
    marker = out / MARKER
    if out.exists() and any(out.iterdir()) and not marker.exists():
        raise CourseError(
            f"{out} is not empty and is not a course site mlopslab built",
            "choose an empty or new folder for --out",
        )
    out.mkdir(exist_ok=True)  # its parent is the caller's to check: no folders made
    marker.write_text("built by `mlopslab course site`; rebuilt in place\n")
    docs = out / "docs"
    if docs.exists():
        shutil.rmtree(docs)  # pages of removed modules must not linger
    (docs / "lessons").mkdir(parents=True)
    (docs / "quizzes").mkdir()
    pages = {"index.md": index_page(course), "glossary.md": glossary_page(course)}
    pages["resources.md"] = resources_page(course)
    for module in course.modules:
        pages[f"lessons/{module.id}.md"] = lesson_page(course, module, solutions)
        pages[f"quizzes/{module.id}.md"] = quiz_page(module)
    if course.capstone is not None:
        pages["capstone.md"] = _without_front_matter(course.capstone.read_text())
    for plan in course.plans:
        pages[f"syllabus-{plan.weeks}.md"] = syllabus.render(course, plan, site=True)
    for name, text in pages.items():
        (docs / name).write_text(text, encoding="utf-8")
    (out / "mkdocs.yml").write_text(
        yaml.safe_dump(mkdocs_config(course), sort_keys=False), encoding="utf-8"
    )
    _mkdocs_build(out)
    return out / "site" / "index.html"


def mkdocs_config(course: Course) -> dict[str, Any]:
    lessons = [{m.meta.title: f"lessons/{m.id}.md"} for m in course.modules]
    quizzes = [{m.meta.title: f"quizzes/{m.id}.md"} for m in course.modules]
    nav: list[Any] = [{"Home": "index.md"}]
    if course.plans:
        plans = [{f"{p.weeks} weeks": f"syllabus-{p.weeks}.md"} for p in course.plans]
        nav.append({"Syllabus": plans})
    nav.append({"Lessons": lessons})
    if course.capstone is not None:
        nav.append({"Capstone": "capstone.md"})
    nav += [
        {"Quizzes": quizzes},
        {"Glossary": "glossary.md"},
        {"Resources": "resources.md"},
    ]
    return {
        "site_name": course.title,
        "docs_dir": "docs",
        "site_dir": "site",
        "use_directory_urls": False,  # pages open straight from disk
        "theme": {"name": "material", "font": False, "features": ["navigation.top"]},
        "plugins": ["search"],
        "markdown_extensions": [
            "admonition",
            "attr_list",
            "tables",
            "toc",
            "pymdownx.details",  # hints and solutions fold away
            "pymdownx.superfences",  # code inside them
        ],
        "validation": {
            "omitted_files": "warn",
            "absolute_links": "warn",
            "unrecognized_links": "warn",
            "anchors": "warn",
        },
        "nav": nav,
    }


def index_page(course: Course) -> str:
    rows = [
        f"| {i} | [{m.meta.title}](lessons/{m.id}.md) | "
        f"{'core' if m.core else 'optional'} | {m.meta.estimated_minutes} min |"
        for i, m in enumerate(course.modules)
    ]
    lines = [
        f"# {course.title}",
        "",
        "Every principle is practised on one working system, mlopslab, and every "
        "practice names its principle. Lessons run real commands; each module has "
        "a quiz and an assignment.",
        "",
        "| # | module | | time |",
        "|---|---|---|---|",
        *rows,
    ]
    if course.capstone is not None:
        lines += ["", "Finish with the [capstone project](capstone.md)."]
    return "\n".join(lines) + "\n"


def lesson_page(course: Course, module: Module, solutions: bool = False) -> str:
    meta = module.meta
    body = exercises.as_markdown(module.body, module.folder, solutions, True)
    body = strip_markers(link_terms(body, glossary_link(course, "../")))
    heading, _, rest = body.lstrip().partition("\n")
    if not heading.startswith("# "):
        heading, rest = f"# {meta.title}", body
    facts = [
        '!!! abstract "In this module"',
        "",
        *[f"    - {objective}" for objective in meta.objectives],
        "",
        f"    About {meta.estimated_minutes} minutes"
        + (f". Tools: {', '.join(meta.tools)}." if meta.tools else "."),
    ]
    resources = [r.markdown() for r in meta.resources]
    return "\n".join(
        [
            heading,
            "",
            *facts,
            rest,
            "",
            "## Resources",
            "",
            *resources,
            "",
            f"Then take the [quiz](../quizzes/{module.id}.md): "
            f"`mlopslab course quiz {module.id} --student YOUR_ID`.",
            "",
        ]
    )


def quiz_page(module: Module, where: str = "--student YOUR_ID") -> str:
    """The questions with no answers, no explanations and no telling order.

    `where` ends the command that takes the quiz: students' copies have no
    keys, so theirs says `--server URL`.
    """
    if module.quiz is None:
        return _keyless_quiz_page(module)
    lines = [
        f"# Quiz: {module.meta.title}",
        "",
        f"Take it with `mlopslab course quiz {module.id} {where}`: your variant "
        "shuffles the options, draws from the pools and picks its own numbers.",
        "",
    ]
    number = 0
    for item in module.quiz.questions:
        group = item.questions if isinstance(item, Pool) else [item]
        if isinstance(item, Pool):
            lines += [f"*One of the next {len(group)} is drawn for you:*", ""]
        for question in group:
            number += 1
            prompt = re.sub(r"\{(\w+)\}", r"*\1*", question.prompt)
            lines += [f"**{number}.** {prompt}", ""]
            choices = getattr(question, "options", None) or getattr(
                question, "items", None
            )
            if choices:
                # Alphabetical: the written order often starts with the key, and
                # an ordering question's items are written in the right order.
                neutral = sorted(choices, key=str.lower)
                lines += [f"- {choice}" for choice in neutral] + [""]
    return "\n".join(lines)


def _keyless_quiz_page(module: Module) -> str:
    """A students' copy: its own `quiz.md` if it has one, else where to go."""
    written = module.folder / "quiz.md"
    if written.is_file():
        return written.read_text(encoding="utf-8")
    return (
        f"# Quiz: {module.meta.title}\n\nThis copy of the course carries no "
        f"quiz: take it on the course server (`mlopslab course quiz {module.id} "
        "--server URL`).\n"
    )


def glossary_page(course: Course) -> str:
    titles = {m.id: m.meta.title for m in course.modules}
    lines = ["# Glossary", ""]
    for term in sorted(course.glossary, key=lambda t: t.term.lower()):
        related = [course.term(r) for r in term.related]
        links = ", ".join(f"[{r.term}](#{r.anchor})" for r in related if r)
        lines += [
            f"### {term.term} {{: #{term.anchor} }}",
            "",
            term.definition,
            "",
            f"Taught in [{titles.get(term.module, term.module)}]"
            f"(lessons/{term.module}.md)." + (f" Related: {links}." if links else ""),
            "",
        ]
    return "\n".join(lines)


def resources_page(course: Course) -> str:
    lines = ["# Resources", "", "Free talks, papers and posts, by module.", ""]
    for module in course.modules:
        lines += [f"## {module.meta.title}", ""]
        lines += [r.markdown() for r in module.meta.resources]
        lines.append("")
    return "\n".join(lines)


def _without_front_matter(text: str) -> str:
    return re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)


def _mkdocs_build(out: Path) -> None:
    # Not --quiet: it hides the warnings that --strict turns into failures.
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=out,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        problems = [
            line
            for line in (done.stderr + done.stdout).splitlines()
            if "WARNING" in line or "ERROR" in line or "Error" in line
        ] or [done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"]
        raise CourseError(
            f"mkdocs build --strict failed: {problems[0].strip()}",
            f"fix the course content; the project is in {out}",
        )
