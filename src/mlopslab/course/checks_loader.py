"""Loading an assignment's checks files, and finding the checks they declare.

A module's checks live in two files: `assignment/checks.py` (public, shipped to
learners) and `instructor/checks.py` (hidden). Each load imports them into a
package of their own, laid out as the module folder is:

    mlopslab_checks_<n>_<module>            3-evaluation/
    mlopslab_checks_<n>_<module>.assignment     assignment/
    mlopslab_checks_<n>_<module>.assignment.checks  assignment/checks.py
    mlopslab_checks_<n>_<module>.instructor     instructor/
    mlopslab_checks_<n>_<module>.instructor.checks  instructor/checks.py

So the hidden file imports the public one's helpers as it would in any package,
`from ..assignment.checks import strict_run`, and gets the very module the
grader loaded (one set of helpers, one set of steps per submission). Each load
has a new number `<n>`: two modules, or a course loaded twice, never share a
module name, and nothing is put in `sys.modules` under a name a file chose.

A check belongs to the file that defines it: a check function the hidden file
imports from the public one is still one public check, counted once.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

from mlopslab.course.grading import Check
from mlopslab.errors import CourseError

FOLDERS = ("assignment", "instructor")  # public, then hidden
_loads = itertools.count(1)


def load_checks(module_dir: Path, hidden: bool) -> list[Check]:
    """A module's public checks, and with `hidden` its instructor checks too."""
    package = _package(module_dir)
    folders = FOLDERS if hidden else ("assignment",)
    checks: list[Check] = []
    for folder in folders:
        module = _load(package, module_dir, folder)
        found = declared(module) if module else []
        checks += [_kept_hidden(c) for c in found] if folder == "instructor" else found
    if not checks:
        raise CourseError(
            f"{module_dir.name} has no assignment checks",
            "add assignment/checks.py to the module",
        )
    ids = [c.id for c in checks]
    if len(set(ids)) != len(ids):
        raise CourseError(f"{module_dir.name}: two checks share a name", "rename one")
    return checks


def _kept_hidden(check: Check) -> Check:
    """An instructor check is never shown as "visible", even if declared so:
    its output could tell students what the hidden checks test."""
    return replace(check, visibility="hidden") if check.public else check


def declared(module: ModuleType) -> list[Check]:
    """The checks `module` itself defines, in file order, each once."""
    found: dict[int, Check] = {}
    for value in vars(module).values():
        item = getattr(value, "__mlopslab_check__", None)
        home = getattr(value, "__module__", None)
        if isinstance(item, Check) and home == module.__name__:
            found.setdefault(id(value), item)
    return list(found.values())


def _package(module_dir: Path) -> str:
    """A new package for one load of `module_dir`, with a subpackage per folder."""
    slug = re.sub(r"\W", "_", module_dir.name)
    root = f"mlopslab_checks_{next(_loads)}_{slug}"
    packages = [(root, module_dir)]
    packages += [(f"{root}.{folder}", module_dir / folder) for folder in FOLDERS]
    for name, folder in packages:
        package = ModuleType(name, f"the checks of {module_dir}")
        package.__path__ = [str(folder)]
        package.__package__ = name
        sys.modules[name] = package
    return root


def _load(package: str, module_dir: Path, folder: str) -> ModuleType | None:
    path = module_dir / folder / "checks.py"
    if not path.is_file():
        return None
    name = f"{package}.{folder}.checks"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CourseError(f"cannot load {path}", "check the file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before it runs: the hidden file imports it
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:  # no __pycache__ left in the course (it may be read-only, or shipped)
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise CourseError(
            f"{path} does not load: {exc}", "fix the checks file"
        ) from exc
    finally:
        sys.dont_write_bytecode = writes
    return module
