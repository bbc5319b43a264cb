"""Device choice, seeding and thread use, shared by the API and the CLI."""

import contextlib
import hashlib
import random

import numpy as np
import torch

from deepsava.errors import InvalidArgumentError


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``cpu | cuda | auto`` to a torch device; ``auto`` picks CUDA when present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InvalidArgumentError("--device cuda was asked for but no CUDA device is available")
        return torch.device(name)
    raise InvalidArgumentError(f"unknown device {name!r}: use cpu, cuda or auto")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def derived_seed(*parts) -> int:
    """A 31-bit seed from any values (stable across processes and platforms)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


@contextlib.contextmanager
def one_thread():
    """Run the block on one CPU thread (the previous count is restored afterwards).

    For tiny linear algebra, such as BO's Gaussian processes over at most tens of points: there the
    thread pool's wake-ups cost more than the work (fitting a GP per video for 8 videos: 0.12 s on one
    thread, 0.6 s on two, on the 2-core VM).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
