"""The tensor convention used everywhere outside a model, and its validation.

A clip is float32 ``(T, C, H, W)`` and a batch of videos ``(B, T, C, H, W)``,
values in ``[0, 1]``, channels first per frame. Models normalise inside, so an
attack never sees anything but pixels in ``[0, 1]``.
"""

import contextlib
import contextvars

import torch

from deepsava.errors import InvalidVideoError

_TRUSTED = contextvars.ContextVar("trusted_videos", default=False)


@contextlib.contextmanager
def trusted_videos():
    """Within the block, :func:`check_videos` checks shapes and dtypes only, not values.

    For an attack's inner loop: its inputs were checked once, and every video it makes is
    clipped to [0, 1]; checking the values again at every forward costs a pass over the
    whole batch (and, on a GPU, a wait for the device) per step.
    """
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def values_trusted() -> bool:
    """Whether the caller is inside :func:`trusted_videos` (an attack's inner loop): values need no scan."""
    return _TRUSTED.get()


def check_videos(videos: torch.Tensor, name: str = "videos") -> torch.Tensor:
    """Validate a batch ``(B, T, C, H, W)`` in ``[0, 1]``; return it unchanged.

    Raises InvalidVideoError naming the problem (rank, dtype, NaN/Inf, range).
    """
    if not isinstance(videos, torch.Tensor):
        raise InvalidVideoError(f"{name} must be a torch.Tensor, got {type(videos).__name__}")
    if videos.dim() != 5:
        raise InvalidVideoError(
            f"{name} must have shape (B, T, C, H, W), got {videos.dim()} dimensions {tuple(videos.shape)}"
        )
    if not videos.is_floating_point():
        raise InvalidVideoError(f"{name} must be a float tensor in [0, 1], got dtype {videos.dtype}")
    if videos.shape[2] not in (1, 3):
        raise InvalidVideoError(
            f"{name} must have 1 or 3 channels in dimension 2 (B, T, C, H, W), got shape {tuple(videos.shape)}"
        )
    if videos.numel() == 0:
        raise InvalidVideoError(f"{name} is empty: shape {tuple(videos.shape)}")
    if _TRUSTED.get():
        return videos
    if not torch.isfinite(videos).all():
        raise InvalidVideoError(f"{name} contains NaN or Inf")
    lo, hi = videos.min().item(), videos.max().item()
    if lo < 0.0 or hi > 1.0:
        raise InvalidVideoError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    return videos


def check_clip(clip: torch.Tensor, name: str = "clip") -> torch.Tensor:
    """Validate one clip ``(T, C, H, W)`` in ``[0, 1]``; return it unchanged."""
    if isinstance(clip, torch.Tensor) and clip.dim() != 4:
        raise InvalidVideoError(f"{name} must have shape (T, C, H, W), got {clip.dim()} dimensions {tuple(clip.shape)}")
    check_videos(clip.unsqueeze(0) if isinstance(clip, torch.Tensor) else clip, name)
    return clip
