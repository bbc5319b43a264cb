"""Perturbation norms on videos (B, T, C, H, W)."""

import torch


def frame_rms(delta: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Root-mean-square of each frame of a perturbation (B, T, C, H, W) -> (B, T).

    ``eps`` is added inside the square root. The gradient of a frame whose mean
    square is exactly zero is zero (not the NaN of d sqrt(x)/dx at 0).
    """
    square = delta.pow(2).flatten(2).mean(dim=2) + eps
    positive = square > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, square, torch.ones_like(square))), 0.0)


def l21(delta: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """l2,1 norm of Wei et al. (2019): sum over frames of the per-frame RMS -> (B,).

    For a perturbation on k frames it is the sum of those k RMS values, so a
    single-frame perturbation's l2,1 is that frame's RMS on the [0, 1] scale.
    """
    return frame_rms(delta, eps).sum(dim=1)


def linf(delta: torch.Tensor) -> torch.Tensor:
    """Largest absolute change of each video (B, T, C, H, W) -> (B,)."""
    return delta.abs().flatten(1).amax(dim=1)
