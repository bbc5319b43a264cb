"""Differentiable SSIM (Wang et al. 2004; paper Eq. 1 and Appendix A).

Gaussian window of 11 taps with sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1,
population (not sample) covariances and "valid" filtering (the border that the
window does not fully cover is cropped). These are exactly scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1.0)``, which the tests compare against.
Multi-channel images are scored per channel and averaged, as scikit-image does.
"""

import functools

import torch

from deepsava.errors import InvalidArgumentError
from deepsava.video import check_videos

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


@functools.lru_cache(maxsize=16)
def _gaussian_taps(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """1-D Gaussian filter (WINDOW,) normalised to sum 1, as scipy's gaussian_filter."""
    x = torch.arange(WINDOW, dtype=torch.float64) - (WINDOW - 1) / 2
    taps = torch.exp(-(x**2) / (2 * SIGMA**2))
    return (taps / taps.sum()).to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=32)
def _band(size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The "valid" Gaussian filter along one axis of ``size`` samples as a matrix (size, size - 10): column j holds
    the taps at rows j..j+10, so ``x @ band`` filters the last axis of x."""
    taps = _gaussian_taps(device, dtype)
    band = torch.zeros(size, size - WINDOW + 1, device=device, dtype=dtype)
    for i in range(WINDOW):
        band.diagonal(-i).copy_(taps[i].expand(size - WINDOW + 1))
    return band


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Separable "valid" Gaussian filter of (N, C, H, W) -> (N, C, H-10, W-10).

    Written as two matrix products with banded matrices (rows, then columns): the same sums as two
    depthwise convolutions, several times faster on a CPU, forward and backward.
    """
    h, w = x.shape[-2:]
    return _band(h, x.device, x.dtype).T @ (x @ _band(w, x.device, x.dtype))


def reference_moments(references: torch.Tensor) -> torch.Tensor:
    """The filtered mean and second moment of references (N, C, H, W) -> (N, 2C, H-10, W-10), float32 or wider.

    Pass them to :func:`ssim` as ``moments`` when many images are scored against the same references
    (every step of an attack, every bisection step of a budget): the references are then not filtered again.
    """
    y = references.to(torch.promote_types(references.dtype, torch.float32))
    with torch.autocast(y.device.type, enabled=False):
        return _blur(torch.cat([y, y * y], dim=1))


def ssim(images: torch.Tensor, references: torch.Tensor, data_range: float = 1.0,
         moments: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM of each image against its reference: (N, C, H, W) x2 -> (N,).

    ``moments``: :func:`reference_moments` of the references, if already computed (they then carry no gradient
    to the references). Images must be float and at least 11x11. Differentiable in both arguments. Computed
    in float32 (float64 stays float64) even under autocast: the variances are
    differences of nearly equal moments, which bfloat16 cannot resolve. Values are
    not scanned (this runs inside every attack step): NaN in gives NaN out; the
    video-level :func:`frame_ssim` and :func:`video_ssim` check their inputs.
    """
    if not (isinstance(images, torch.Tensor) and isinstance(references, torch.Tensor)):
        raise InvalidArgumentError("ssim expects two tensors (N, C, H, W)")
    if images.shape != references.shape or images.dim() != 4:
        raise InvalidArgumentError(f"ssim expects two (N, C, H, W) tensors of one shape, got {tuple(images.shape)} and {tuple(references.shape)}")
    if not (images.is_floating_point() and references.is_floating_point()):
        raise InvalidArgumentError(f"ssim expects float images in [0, data_range], got {images.dtype} and"
                                   f" {references.dtype}")
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)) or not 0 < data_range < float("inf"):
        raise InvalidArgumentError(f"data_range must be a positive finite number, got {data_range!r}")
    if min(images.shape[-2:]) < WINDOW:
        raise InvalidArgumentError(f"ssim needs frames of at least {WINDOW}x{WINDOW}, got {tuple(images.shape[-2:])}")
    n, c, h, w = images.shape
    if moments is not None and moments.shape != (n, 2 * c, h - WINDOW + 1, w - WINDOW + 1):
        raise InvalidArgumentError(f"moments must be reference_moments(references), shape"
                                   f" {(n, 2 * c, h - WINDOW + 1, w - WINDOW + 1)}, got {tuple(moments.shape)}")
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    dtype = torch.promote_types(torch.promote_types(images.dtype, references.dtype), torch.float32)
    with torch.autocast(images.device.type, enabled=False):
        x, y = images.to(dtype), references.to(dtype)
        moments = reference_moments(y) if moments is None else moments.to(dtype)
        return _ssim(x, y, moments, c1, c2).reshape(n, -1).mean(dim=1)


def _ssim(x: torch.Tensor, y: torch.Tensor, y_moments: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    """The SSIM map of (N, C, H, W) x2 and the references' moments (N, 2C, H-10, W-10) -> (N, C, H-10, W-10)."""
    c = x.shape[1]
    # One filtering pass over the image's three moment images stacked along channels.
    mu_x, xx, xy = _blur(torch.cat([x, x * x, x * y], dim=1)).split(c, dim=1)
    mu_y, yy = y_moments.split(c, dim=1)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))


def frame_ssim(videos: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """SSIM of every frame: (B, T, C, H, W) x2 -> (B, T); both must be videos in [0, 1] (InvalidVideoError)."""
    check_videos(videos)
    check_videos(references, "references")
    b, t = videos.shape[:2]
    return ssim(videos.flatten(0, 1), references.flatten(0, 1)).view(b, t)


def video_ssim(videos: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """SSIM averaged over all frames of each video: (B, T, C, H, W) x2 -> (B,)."""
    return frame_ssim(videos, references).mean(dim=1)
