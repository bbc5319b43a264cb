"""Where generated datasets and decoded clips are cached, and how they are written safely."""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def cache_root() -> Path:
    """``$DEEPSAVA_CACHE``, or ``~/.cache/deepsava`` when it is unset."""
    return Path(os.environ.get("DEEPSAVA_CACHE") or "~/.cache/deepsava").expanduser()


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    A process killed half-way leaves at most a stray ``*.tmp`` file, never a bad ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is for every user of the machine
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` (.npy) atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def open_array(path: Path, shape: tuple, dtype=np.uint8) -> np.memmap:
    """A writable .npy memory map at a temporary path, for filling big arrays without holding them in RAM.

    Use inside :func:`atomic_path`: ``with atomic_path(p) as tmp: a = open_array(tmp, ...)``.
    """
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
