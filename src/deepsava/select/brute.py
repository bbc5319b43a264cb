"""Brute force over every single-frame mask (the paper's Table 8 upper bound)."""

import torch

from deepsava.errors import InvalidArgumentError
from deepsava.select.probe import probe_candidates


class BruteForce:
    """Probe all T single-frame masks of each video, as batches of (video, frame) rows."""

    name = "brute"

    def __init__(self, probe_steps: int = 5, max_rows: int = 32):
        self.probe_steps = probe_steps
        self.max_rows = max_rows

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        if k != 1:
            raise InvalidArgumentError(f"brute force searches single-frame masks only, got frames={k}")
        b, t = videos.shape[:2]
        candidates = torch.arange(t, device=videos.device).view(1, t, 1).expand(b, t, 1)
        losses = probe_candidates(attack, videos, labels, candidates, self.probe_steps, self.max_rows)
        self.chosen_loss = losses.min(dim=1).values  # (B,) probe loss of the chosen masks
        return losses.argmin(dim=1, keepdim=True)
