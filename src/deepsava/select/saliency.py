"""Frames ranked by the gradient of the attack loss (Xu et al. 2022 style): one backward pass."""

import torch


def frame_saliency(attack, videos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L2 norm of d(attack loss)/d(frame) for every frame: (B, T, C, H, W) -> (B, T)."""
    x = videos.detach().clone().requires_grad_(True)
    attack.adversarial_loss(attack.model(x), labels).sum().backward()
    return x.grad.flatten(2).norm(dim=2)


class SaliencyFrames:
    name = "saliency"

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        """(B, k) indices of the k frames with the largest loss gradient, sorted."""
        return frame_saliency(attack, videos, labels).topk(k, dim=1).indices.sort(dim=1).values
