"""Debian's chromium, headless, as the tests' real browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from typing import ParamSpec

import pytest

P = ParamSpec("P")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


_browser = pytest.mark.skipif(
    chromium() is None and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (CI installs it)",
)


def needs_browser(test: Callable[P, None]) -> Callable[P, None]:
    """A test in a real browser: skipped without chromium (not in CI), and slow."""
    return pytest.mark.slow(_browser(test))


def run_browser(*args: str) -> str:
    """Run chromium with a fresh profile; return what it printed."""
    browser = chromium()
    assert browser is not None, "CI must install chromium (see .ci/run)"
    profile = f"--user-data-dir={tempfile.mkdtemp()}"
    completed = subprocess.run(
        [browser, *FLAGS, profile, *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return completed.stdout


def rendered_dom(url: str) -> str:
    """The DOM after scripts ran (virtual time lets the page finish loading)."""
    return run_browser("--virtual-time-budget=8000", "--dump-dom", url)
