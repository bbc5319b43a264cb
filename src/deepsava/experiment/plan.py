"""The plan of a run: which videos each repeat attacks, in which order, and what identifies a cell.

- Cell key: a hash of the cell's full canonical configuration (dataset, the model's identity with
  the SHA-256 of its weights, the attack's explicit and resolved parameters, the seed and the batch
  size). Changing any of them makes a new cell; labels, the number of videos and repeats are not part of it.
- Videos: repeat ``r`` attacks a prefix of a class-interleaved random order of the split drawn with
  seed ``(seed, r)``, so every repeat has its own sample and ``--limit N`` takes the first N of it.
"""

import hashlib
import json
import shlex
from pathlib import Path

import torch

KEY_VERSION = 1


def video_order(labels: list[int], seed: int) -> list[int]:
    """All dataset indices in a seeded class-interleaved random order (any prefix is near class-balanced)."""
    g = torch.Generator().manual_seed(seed)
    classes = sorted(set(labels))
    pools = []
    for c in (classes[i] for i in torch.randperm(len(classes), generator=g).tolist()):
        members = [i for i, y in enumerate(labels) if y == c]
        pools.append([members[j] for j in torch.randperm(len(members), generator=g).tolist()])
    order = []
    for rank in range(max(map(len, pools), default=0)):
        order.extend(pool[rank] for pool in pools if rank < len(pool))
    return order


def cell_key(canonical: dict) -> str:
    """Hash of a cell's canonical configuration."""
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:20]


def resume_command(config, out: Path, limit: int | None, device: str, models: list[str] | None = None) -> str:
    parts = ["deepsava", "experiment", config.path or "CONFIG.yaml", "--out", str(out)]
    for model in models or []:
        parts += ["--model", model]
    if limit is not None:
        parts += ["--limit", str(limit)]
    if device != "auto":
        parts += ["--device", device]
    return shlex.join(parts)
