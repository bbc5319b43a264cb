"""The combined perturbation of paper Eq. 2: X^ = N.M + S(U, X, M), clipped to [0, 1].

The mask M is given as frame indices (B, k). Perturbation tensors hold the
selected frames only: noise N (B, k, C, H, W) and flow U (B, k, 2, H, W).
On each selected frame the warp is applied first, then the noise is added, then
the frame is clipped to [0, 1] (the order of the authors' code). Frames outside
the mask are copied, so they stay bit-identical to the input.
"""

import torch

from deepsava.perturb.flow import warp

MODES = ("additive", "spatial", "combined")


def gather_frames(videos: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Frames of each video at the given indices: (B, T, C, H, W), (B, k) -> (B, k, C, H, W)."""
    index = frames.view(*frames.shape, 1, 1, 1).expand(-1, -1, *videos.shape[2:])
    return videos.gather(1, index)


def scatter_frames(videos: torch.Tensor, frames: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Copy of videos with the frames at the indices replaced by values (B, k, C, H, W)."""
    index = frames.view(*frames.shape, 1, 1, 1).expand(-1, -1, *videos.shape[2:])
    return videos.scatter(1, index, values)


def perturb_frames(clean: torch.Tensor, noise: torch.Tensor | None, flow: torch.Tensor | None) -> torch.Tensor:
    """Perturb frames (B, k, C, H, W): warp by flow, add noise, clip to [0, 1]."""
    out = clean
    if flow is not None:
        b, k = clean.shape[:2]
        out = warp(clean.flatten(0, 1), flow.flatten(0, 1)).view_as(clean)
    if noise is not None:
        out = out + noise
    return out.clamp(0.0, 1.0)


def apply_perturbation(
    videos: torch.Tensor, frames: torch.Tensor, noise: torch.Tensor | None, flow: torch.Tensor | None
) -> torch.Tensor:
    """Adversarial videos (B, T, C, H, W) from clean videos and per-frame N, U on frames (B, k).

    Pass ``flow=None`` for the additive mode (D) and ``noise=None`` for the spatial mode (S).
    """
    return scatter_frames(videos, frames, perturb_frames(gather_frames(videos, frames), noise, flow))


def frames_to_mask(frames: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Frame indices (B, k) -> binary mask M (B, T) of dtype bool."""
    mask = torch.zeros(frames.shape[0], num_frames, dtype=torch.bool, device=frames.device)
    return mask.scatter(1, frames, True)
