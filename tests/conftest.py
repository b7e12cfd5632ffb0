"""Fixtures shared by every test folder.

Tests on the shared datasets take the ``shared_data_dir`` fixture: it needs ``METAMAT_DATA_DIR`` (e.g.
``METAMAT_DATA_DIR=/work/shared/data``) and skips the test with the reason when it is unset or the folder is
absent. ``optional_data_dir`` is the same folder or ``None`` for tests that only add real rows when present.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared data folder from METAMAT_DATA_DIR (skips the test when unavailable)."""
    value = os.environ.get("METAMAT_DATA_DIR")
    if not value:
        pytest.skip("METAMAT_DATA_DIR is not set: set it to the shared data folder (e.g. /work/shared/data) "
                    "to run the tests on real datasets")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"METAMAT_DATA_DIR={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def optional_data_dir() -> Path | None:
    """The shared data folder from METAMAT_DATA_DIR, or None (never skips)."""
    value = os.environ.get("METAMAT_DATA_DIR")
    return Path(value) if value and Path(value).is_dir() else None


@pytest.fixture(autouse=True)
def empty_user_data_dir(tmp_path_factory, monkeypatch) -> Path:
    """Datasets a developer fetched into ~/.local/share/metamat must not leak into the tests."""
    path = tmp_path_factory.mktemp("xdg_data_home")
    monkeypatch.setenv("XDG_DATA_HOME", str(path))
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Make any download attempt fail loudly (proves that data came from the cache)."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append((args, kwargs))
        raise requests.ConnectionError("network disabled in tests")

    monkeypatch.setattr(requests, "get", refuse)
    return calls


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """An empty cache directory, also set as METAMAT_CACHE_DIR."""
    path = tmp_path / "cache"
    path.mkdir()
    monkeypatch.setenv("METAMAT_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def small_structures():
    """Three real, small structures built with pymatgen (Si, NaCl, GaAs). Do not modify them."""
    from pymatgen.core import Lattice, Structure

    si = Structure(Lattice.cubic(5.43), ["Si"] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]])
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    gaas = Structure(Lattice.cubic(5.65), ["Ga", "As"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    return [si, nacl, gaas]
