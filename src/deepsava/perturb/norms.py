"""Perturbation norms on videos (B, T, C, H, W)."""

import torch


def frame_rms(delta: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Root-mean-square of each frame of a perturbation (B, T, C, H, W) -> (B, T).

    ``eps`` inside the square root keeps the gradient finite at exactly zero.
    """
    return torch.sqrt(delta.pow(2).flatten(2).mean(dim=2) + eps)


def l21(delta: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """l2,1 norm of Wei et al. (2019): sum over frames of the per-frame RMS -> (B,).

    For a perturbation on k frames it is the sum of those k RMS values, so a
    single-frame perturbation's l2,1 is that frame's RMS on the [0, 1] scale.
    """
    return frame_rms(delta, eps).sum(dim=1)


def linf(delta: torch.Tensor) -> torch.Tensor:
    """Largest absolute change of each video (B, T, C, H, W) -> (B,)."""
    return delta.abs().flatten(1).amax(dim=1)
