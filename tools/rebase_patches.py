"""Carry the course's patches across a change of the code they patch.

The reference solutions and sample submissions under `course/*/instructor/` are
patches against this repository. When a change moves or edits the files they
touch, run

    make patches BASE=<a commit the patches still apply to>

For each patch: apply it at BASE and commit that, cherry-pick the commit onto
HEAD (git's merge follows renamed files and merges edits around the patch's
lines), then write the diff against HEAD back over the patch. A patch whose
cherry-pick conflicts is left as it was and named; the command then exits 1.
Only committed work counts: commit the change first.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IDENTITY = ["-c", "user.name=patches", "-c", "user.email=patches@localhost"]


def git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or done.stdout.strip())
    return done.stdout


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="patches-") as tmp:
        path = Path(tmp) / "tree"
        git("worktree", "add", "--quiet", "--detach", str(path), rev)
        try:
            yield path
        finally:
            git("worktree", "remove", "--force", str(path))


def rebase(patch: Path, base: str, head: str) -> str:
    """The patch's diff against `head`, carried over from `base`."""
    with worktree(base) as old:
        git("apply", "--index", str(patch), cwd=old)
        git("commit", "--quiet", "--no-verify", "-m", patch.name, cwd=old)
        commit = git("rev-parse", "HEAD", cwd=old).strip()
    with worktree(head) as new:
        git("cherry-pick", "--no-commit", commit, cwd=new)
        return git("diff", "--cached", "--no-color", head, cwd=new)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: rebase_patches.py BASE", file=sys.stderr)
        return 2
    base = git("rev-parse", argv[0]).strip()
    head = git("rev-parse", "HEAD").strip()
    failed = []
    for patch in sorted(ROOT.glob("course/*/instructor/**/*.patch")):
        name = patch.relative_to(ROOT)
        try:
            text = rebase(patch, base, head)
        except RuntimeError as exc:
            failed.append(name)
            print(f"{name}: not carried over: {str(exc).splitlines()[0]}")
            continue
        if text != patch.read_text():
            patch.write_text(text)
            print(f"{name}: rewritten")
    git("worktree", "prune")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
