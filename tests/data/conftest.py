"""Fixtures shared by the data tests."""

import pytest


@pytest.fixture
def isolated_fetch_dirs(monkeypatch, tmp_path):
    """Cache, user data dir and proxies that cannot leak in or out of the test."""
    monkeypatch.setenv("METAMAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("METAMAT_DATA_DIR", raising=False)
    monkeypatch.delenv("METAMAT_FETCH_MIRROR", raising=False)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
