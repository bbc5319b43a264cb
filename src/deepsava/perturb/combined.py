"""The combined perturbation of paper Eq. 2: X^ = N.M + S(U, X, M), clipped to [0, 1].

The mask M is given as frame indices (B, k): distinct integers in [0, T) per video.
Perturbation tensors hold the selected frames only: noise N (B, k, C, H, W) and
flow U (B, k, 2, H, W). On each selected frame the warp is applied first, then the
noise is added, then the frame is clipped to [0, 1] (the order of the authors'
code). Frames outside the mask are copied, so they stay bit-identical to the input.
"""

import torch

from deepsava.errors import InvalidArgumentError, InvalidVideoError
from deepsava.perturb.flow import warp
from deepsava.video import check_videos

MODES = ("additive", "spatial", "combined")


def check_frames(frames: torch.Tensor, length: int, batch: int | None = None) -> None:
    """Raise InvalidArgumentError unless ``frames`` (B, k) holds, per video, distinct integer indices in [0, length)."""
    if not isinstance(frames, torch.Tensor) or frames.dtype not in (torch.int32, torch.int64):
        raise InvalidArgumentError(f"frames must be an int64 tensor of frame indices (B, k), got"
                                   f" {getattr(frames, 'dtype', type(frames).__name__)}")
    if frames.dim() != 2 or batch not in (None, frames.shape[0]):
        raise InvalidArgumentError(f"frames must have shape (B, k) with B = {batch or 'the batch size'}, got"
                                   f" {tuple(frames.shape)}")
    if frames.numel() and (frames.min() < 0 or frames.max() >= length):
        raise InvalidArgumentError(f"frame indices must lie in [0, {length - 1}], got {frames.tolist()}")
    if frames.shape[1] > 1 and (frames.sort(dim=1).values.diff(dim=1) == 0).any():
        raise InvalidArgumentError(f"frame indices must be distinct within a video, got {frames.tolist()}")


def _index(videos: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """The gather/scatter index (B, k, C, H, W) of frames (B, k) in videos (B, T, C, H, W), validated."""
    if not isinstance(videos, torch.Tensor) or videos.dim() != 5:
        raise InvalidVideoError(f"videos must have shape (B, T, C, H, W), got {tuple(getattr(videos, 'shape', ()))}")
    check_frames(frames, videos.shape[1], videos.shape[0])
    return frames.long().view(*frames.shape, 1, 1, 1).expand(-1, -1, *videos.shape[2:])


def gather_frames(videos: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Frames of each video at the given indices: (B, T, C, H, W), (B, k) -> (B, k, C, H, W)."""
    return videos.gather(1, _index(videos, frames))


def scatter_frames(videos: torch.Tensor, frames: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Copy of videos with the frames at the indices replaced by values (B, k, C, H, W)."""
    index = _index(videos, frames)
    if not isinstance(values, torch.Tensor) or values.shape != index.shape:
        raise InvalidArgumentError(f"values must have shape {tuple(index.shape)}, got"
                                   f" {tuple(getattr(values, 'shape', ()))}")
    return videos.scatter(1, index, values)


def perturb_frames(clean: torch.Tensor, noise: torch.Tensor | None, flow: torch.Tensor | None) -> torch.Tensor:
    """Perturb frames (B, k, C, H, W): warp by flow, add noise, clip to [0, 1]."""
    out = clean
    if flow is not None:
        out = warp(clean.flatten(0, 1), flow.flatten(0, 1)).view_as(clean)
    if noise is not None:
        out = out + noise
    return out.clamp(0.0, 1.0)


def apply_perturbation(
    videos: torch.Tensor, frames: torch.Tensor, noise: torch.Tensor | None, flow: torch.Tensor | None
) -> torch.Tensor:
    """Adversarial videos (B, T, C, H, W) from clean videos and per-frame N, U on frames (B, k).

    Pass ``flow=None`` for the additive mode (D) and ``noise=None`` for the spatial mode (S).
    Raises InvalidVideoError for videos off the convention, InvalidArgumentError for a mask
    that is not distinct indices of frames, or N, U of another shape or not finite.
    """
    check_videos(videos)
    clean = gather_frames(videos, frames)
    b, k, c, h, w = clean.shape
    for name, value, shape in (("noise", noise, (b, k, c, h, w)), ("flow", flow, (b, k, 2, h, w))):
        if value is None:
            continue
        if not isinstance(value, torch.Tensor) or value.shape != shape:
            raise InvalidArgumentError(f"{name} must have shape {shape}, got {tuple(getattr(value, 'shape', ()))}")
        if not value.is_floating_point() or not torch.isfinite(value).all():
            raise InvalidArgumentError(f"{name} must be a finite float tensor")
    return scatter_frames(videos, frames, perturb_frames(clean, noise, flow))


def frames_to_mask(frames: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Frame indices (B, k) -> binary mask M (B, T) of dtype bool."""
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise InvalidArgumentError(f"num_frames must be a positive integer, got {num_frames!r}")
    check_frames(frames, num_frames)
    mask = torch.zeros(frames.shape[0], num_frames, dtype=torch.bool, device=frames.device)
    return mask.scatter(1, frames.long(), True)
