"""The last model `mlopslab serve` loaded for an alias, kept in the workspace cache.

A restart serves that copy at once and asks the registry in the background
(the registry agent needs about 1.5 s to import MLflow). If the alias moved
while the server was down, the server swaps to the new version the same way it
does when it polls. Nothing here is a source of truth: a missing or damaged
snapshot only means a normal start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

from mlopslab.stores.registry.versions import ModelFiles, files_from_json, files_to_json


def snapshot_dir(cache: Path, tracking_uri: str, name: str | None, ref: str) -> Path:
    """One folder per store, model name (as configured) and alias or version."""
    key = hashlib.sha256(f"{tracking_uri}\0{name or ''}\0{ref}".encode()).hexdigest()
    return cache / "serving" / key[:16]


def read_snapshot(folder: Path) -> ModelFiles | None:
    try:
        data = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        files = replace(files_from_json(data), directory=folder / "files")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return files if (files.directory / files.pickled_model).is_file() else None


def save_snapshot(folder: Path, files: ModelFiles) -> None:
    """Copy the files in beside the old snapshot, then swap them in."""
    fresh = folder.with_name(f"{folder.name}.new-{os.getpid()}")
    old = folder.with_name(f"{folder.name}.old-{os.getpid()}")
    try:
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(files.directory, fresh / "files")
        saved = replace(files, directory=fresh / "files")
        (fresh / "model.json").write_text(json.dumps(files_to_json(saved)))
        if folder.exists():
            folder.rename(old)
        fresh.rename(folder)
    except OSError:
        return  # a cache: the next start is just not faster
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
