"""The one timer of the benchmarks: the median wall time of a call, the GPU waited for."""

import statistics
import time

import torch


def timed(fn, device: torch.device, repeats: int = 3) -> float:
    """Median seconds of fn() over ``repeats`` runs after one warm-up (CUDA synchronised around each run)."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
