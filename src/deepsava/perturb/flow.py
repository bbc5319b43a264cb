"""Spatial transformation by a per-pixel flow field (stAdv style; paper Section 3.3).

A flow ``U`` of shape (N, 2, H, W) holds, for every output pixel, the displacement
in pixels of the location it is sampled from: channel 0 horizontal (+ = right),
channel 1 vertical (+ = down). Output pixel (i, j) takes the input's value at
(i + U[1, i, j], j + U[0, i, j]) by bilinear interpolation; sampling locations
outside the frame are clamped to the border. A zero flow returns the input
exactly, and an integer flow shifts the frame by exactly that many pixels.
"""

import functools

import torch
import torch.nn.functional as F

from deepsava.errors import InvalidArgumentError
from deepsava.video import values_trusted


@functools.lru_cache(maxsize=16)
def _pixel_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column index of every pixel, each (1, H, W)."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=dtype, device=device), torch.arange(w, dtype=dtype, device=device), indexing="ij")
    return ys.unsqueeze(0), xs.unsqueeze(0)


def warp(frames: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Warp frames (N, C, H, W) by flow (N, 2, H, W) in pixels -> (N, C, H, W).

    Bilinear sampling written with gathers rather than ``grid_sample`` so that no
    round trip through normalised coordinates blurs an integer shift. A flow with
    NaN or Inf raises InvalidArgumentError (it has no sampling location), except inside
    an attack's inner loop (:func:`deepsava.video.trusted_videos`: no scan, no wait for a GPU).
    """
    n, c, h, w = frames.shape
    if flow.shape != (n, 2, h, w):
        raise InvalidArgumentError(f"flow must have shape {(n, 2, h, w)}, got {tuple(flow.shape)}")
    if not flow.is_floating_point():
        raise InvalidArgumentError(f"flow must be a float tensor (pixels), got {flow.dtype}")
    if not values_trusted() and not torch.isfinite(flow.detach().sum()):  # a NaN or Inf anywhere, cheaply
        raise InvalidArgumentError("flow must be a finite float tensor (pixels), got NaN, Inf or integers")
    rows, cols = _pixel_grid(h, w, frames.device, frames.dtype)
    x = (cols + flow[:, 0]).clamp(0, w - 1)
    y = (rows + flow[:, 1]).clamp(0, h - 1)
    x0, y0 = x.detach().floor(), y.detach().floor()
    wx, wy = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    flat = frames.reshape(n, c, h * w)

    def at(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return flat.gather(2, (yi * w + xi).view(n, 1, h * w).expand(n, c, h * w)).view(n, c, h, w)

    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    return top * (1 - wy) + bottom * wy


def flow_smoothness(flow: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """stAdv's total-variation loss of a flow (N, 2, H, W) -> (N,).

    Sum over pixels of sqrt(||dU to the right||^2 + ||dU below||^2 + eps); finite
    gradient at zero flow thanks to eps.
    """
    dx = F.pad(flow[..., :, 1:] - flow[..., :, :-1], (0, 1))
    dy = F.pad(flow[..., 1:, :] - flow[..., :-1, :], (0, 0, 0, 1))
    return torch.sqrt((dx**2 + dy**2).sum(dim=1) + eps).flatten(1).sum(dim=1)
