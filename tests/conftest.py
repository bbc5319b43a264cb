"""Fixtures shared by the test modules: real clips and an isolated cache folder."""

import os

# Before torch loads: idle OpenMP threads sleep instead of spinning, so the tests that start a
# second torch process (CLI, kill-and-resume) do not slow each other down on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

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


@pytest.fixture
def one_thread():
    """Single-threaded torch for a test: on a shared 2-core machine extra threads spin-wait and run slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cli_run(capsys):
    """Run the deepsava command line in this process: ``cli_run(args) -> (exit code, stdout, stderr)``."""
    import sys

    from deepsava import cli

    def run(args) -> tuple[int, str, str]:
        old = sys.argv
        sys.argv = ["deepsava", *map(str, args)]
        try:
            cli.run()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        finally:
            sys.argv = old
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
