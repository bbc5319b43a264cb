"""Fixtures shared by the test modules: real clips and an isolated cache folder."""

from pathlib import Path

import pytest

CLIPS = (Path(__file__).parents[1] / "../shared/data/clips").resolve()


@pytest.fixture
def real_clip():
    """Path to a real clip under ../shared/data/clips (skips the test when it is absent)."""

    def get(name: str) -> Path:
        path = CLIPS / name
        if not path.is_file():
            pytest.skip(f"real clip {path} is not available")
        return path

    return get


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A fresh $DEEPSAVA_CACHE for one test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("DEEPSAVA_CACHE", str(path))
    return path
