"""Frames ranked by the gradient of the attack loss (Xu et al. 2022 style): one backward pass."""

import torch


def loss_gradient(model, criterion, videos: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Gradient of the criterion's adversarial loss (summed over the batch) with respect to the input pixels.

    videos (B, T, C, H, W) -> gradient (B, T, C, H, W); each video's loss depends on
    that video only, so row b is the gradient of video b's own loss.
    """
    x = videos.detach().clone().requires_grad_(True)
    criterion.loss(model(x), targets).sum().backward()
    return x.grad


def frame_saliency(attack, videos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L2 norm of d(attack loss)/d(frame) for every frame: (B, T, C, H, W) -> (B, T)."""
    return loss_gradient(attack.model, attack.criterion, videos, labels).flatten(2).norm(dim=2)


class SaliencyFrames:
    """The k frames with the largest loss gradient, or with ``least=True`` the k with the smallest."""

    name = "saliency"

    def __init__(self, least: bool = False):
        self.least = least

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        """(B, k) indices of the k most (or least) salient frames, sorted."""
        scores = frame_saliency(attack, videos, labels)
        return scores.topk(k, dim=1, largest=not self.least).indices.sort(dim=1).values
