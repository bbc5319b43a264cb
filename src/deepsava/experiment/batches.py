"""Loading a run's batches of clips, the next one decoded while the current one is attacked.

Decoding (PyAV, the clip caches) runs in one background thread, so a GPU does not wait for it
between batches; on a CUDA device the stacked batch sits in pinned memory, so its copy to the
device can overlap too. Every dataset draws its randomness from its own seeded generators, so
loading in another thread changes no clip.
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


def prefetched(plan: Iterable[Item], load: Callable[[Item], object]) -> Iterator[tuple[Item, object]]:
    """Yield ``(item, load(item))`` for each item of the plan, loading the next item while the caller works.

    An exception of ``load`` is raised where its item is yielded, as without prefetching; a caller that
    stops early waits only for the one load in flight.
    """
    items = list(plan)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepsava-load") as pool:
        pending = pool.submit(load, items[0]) if items else None
        for i, item in enumerate(items):
            loaded = pending.result()
            pending = pool.submit(load, items[i + 1]) if i + 1 < len(items) else None
            yield item, loaded
