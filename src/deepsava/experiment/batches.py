"""Loading a run's batches of clips; on a GPU the next one is decoded while the current one is attacked.

With ``background`` (the runner sets it for a CUDA device) decoding (PyAV, the clip caches) runs in one
background thread, so the GPU does not wait for it between batches, and the stacked batch sits in pinned
memory, so its copy to the device can overlap too. On a CPU the attack already uses every core and
the loading thread's own PyTorch thread team competes with it (the reduced Table 3 of
``configs/quick.yaml`` took 30.0 s with it, 27.4 s without): there batches load in turn. Every dataset
draws its randomness from its own seeded generators, so loading in another thread changes no clip.
"""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

Item = TypeVar("Item")


def load_batch(dataset, indices: list[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips (B, T, C, H, W) and labels (B,) of ``dataset[i]`` for i in indices, on the CPU (pinned for CUDA)."""
    items = [dataset[i] for i in indices]
    videos = torch.stack([clip for clip, _ in items])
    labels = torch.tensor([label for _, label in items])
    if device.type == "cuda":
        videos, labels = videos.pin_memory(), labels.pin_memory()
    return videos, labels


def prefetched(plan: Iterable[Item], load: Callable[[Item], object],
               background: bool = True) -> Iterator[tuple[Item, object]]:
    """Yield ``(item, load(item))`` for each item of the plan; with ``background``, loading the next item while
    the caller works (else each item when it is reached).

    An exception of ``load`` is raised where its item is yielded, as without prefetching; a caller that
    stops early waits only for the one load in flight.
    """
    items = list(plan)
    if not background:
        yield from ((item, load(item)) for item in items)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepsava-load") as pool:
        pending = pool.submit(load, items[0]) if items else None
        for i, item in enumerate(items):
            loaded = pending.result()
            pending = pool.submit(load, items[i + 1]) if i + 1 < len(items) else None
            yield item, loaded
