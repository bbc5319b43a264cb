"""The paper's "without BO": perturb frames 0..k-1."""

import torch


class FirstFrames:
    name = "first"

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        """(B, k) frame indices 0..k-1 for every video."""
        return torch.arange(k, device=videos.device).expand(videos.shape[0], k).clone()
