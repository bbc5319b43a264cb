"""k frames drawn uniformly at random per video (seeded)."""

import torch

from deepsava.select.probe import random_masks


class RandomFrames:
    name = "random"

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        """(B, k) sorted random frame indices."""
        return random_masks(videos.shape[0], videos.shape[1], k, generator).to(videos.device)
