"""Loading a version's pickled pipeline, and what goes wrong doing it."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import pytest

from mlopslab.errors import RegistryError
from mlopslab.stores.registry.versions import ModelFiles, VersionInfo, load_pipeline


def missing_module_pickle() -> bytes:
    """A pickle of an object whose class lives in a module this machine lacks,
    as a PyTorch model is where torch is not installed."""
    module = types.ModuleType("nosuch_torch")

    class Model:
        pass

    Model.__module__, Model.__qualname__ = "nosuch_torch", "Model"
    module.Model = Model  # type: ignore[attr-defined]
    sys.modules["nosuch_torch"] = module
    try:
        return pickle.dumps(Model())
    finally:
        del sys.modules["nosuch_torch"]


MISSING_MODULE = missing_module_pickle()


def files(folder: Path, content: bytes) -> ModelFiles:
    (folder / "model.pkl").write_bytes(content)
    info = VersionInfo("penguins", "3", "approved", ("champion",), "run", 0)
    return ModelFiles(info, folder, "model.pkl", "cloudpickle", inputs=[])


def test_a_model_whose_package_is_missing_names_it_and_the_install(
    tmp_path: Path,
) -> None:
    with pytest.raises(ModuleNotFoundError):  # the pickle is what the test says
        pickle.loads(MISSING_MODULE)
    with pytest.raises(RegistryError) as caught:
        load_pipeline(files(tmp_path, MISSING_MODULE))
    assert caught.value.one_line() == (
        "cannot load penguins v3: it needs the Python package 'nosuch_torch', "
        "which is not installed here; install it (for torch: pip install "
        "'mlopslab[torch]', in this repository `make setup-test`)"
    )


def test_a_truncated_pickle_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot load penguins v3"):
        load_pipeline(files(tmp_path, MISSING_MODULE[:20]))
