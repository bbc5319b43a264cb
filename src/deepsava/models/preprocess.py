"""How a foreign model's input is made from pixels, inside the model: resize, centre crop, scale, normalise, reorder.

``Preprocess`` maps videos ``(B, T, C, H, W)`` in ``[0, 1]`` at any resolution to
the tensor a torchvision, Hugging Face or user's network takes, with torch ops
only, so gradients reach the pixels and an attack stays in the frames' own pixel
space. Its settings reproduce the preprocessing each library defines for its
models (see ``torchvision_video``, ``huggingface`` and ``user_module``).
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LAYOUTS = ("BTCHW", "BCTHW")


def resized_size(height: int, width: int, size: int | tuple[int, int]) -> tuple[int, int]:
    """The ``(h, w)`` a frame of ``height x width`` is resized to.

    ``size`` ``(h, w)`` is exact; an int is the shorter side, the longer one
    scaled and truncated (torchvision's and transformers' rule alike).
    """
    if not isinstance(size, int):
        return tuple(size)
    short, long = min(height, width), max(height, width)
    other = int(size * long / short)
    return (size, other) if height <= width else (other, size)


def centre_crop(frames: torch.Tensor, size: tuple[int, int], rounding: str) -> torch.Tensor:
    """Crop ``frames (N, C, H, W)`` to ``(N, C, *size)`` around the centre.

    A frame smaller than the crop is first padded with zeros (the extra pixel on the
    bottom/right side). An odd margin puts the spare pixel by ``rounding``: ``"round"``,
    half to even as torchvision's ``center_crop``, or ``"floor"`` as transformers' processors.
    """
    height, width = frames.shape[-2:]
    crop_h, crop_w = size
    pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
    if pad_h or pad_w:
        frames = F.pad(frames, [pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2])
        height, width = frames.shape[-2:]
    margins = (height - crop_h, width - crop_w)
    top, left = (round(m / 2) if rounding == "round" else m // 2 for m in margins)
    return frames[..., top:top + crop_h, left:left + crop_w]


class Preprocess(nn.Module):
    """Videos ``(B, T, C, H, W)`` in ``[0, 1]`` -> a network's input ``(B, T, C, h, w)`` or ``(B, C, T, h, w)``.

    In order: ``resize`` (None: frames as given) with ``mode`` (``"bilinear"`` or
    ``"bicubic"``, ``align_corners=False``) and ``antialias``; centre ``crop`` (None:
    none, else ``(h, w)`` placed by ``crop_rounding``); ``x * scale + shift``; then
    ``(x - mean) / std`` per channel when ``mean`` is given; last the ``layout``.
    """

    def __init__(self, *, resize: int | tuple[int, int] | None = None, mode: str = "bilinear", antialias: bool = False,
                 crop: tuple[int, int] | None = None, crop_rounding: str = "round", scale: float = 1.0,
                 shift: float = 0.0, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 layout: str = "BTCHW"):
        super().__init__()
        self.resize, self.mode, self.antialias = resize, mode, antialias
        self.crop, self.crop_rounding = crop, crop_rounding
        self.scale, self.shift, self.layout = scale, shift, layout
        self.normalise = mean is not None
        if self.normalise:
            self.register_buffer("mean", torch.tensor(mean).view(1, 1, -1, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(std).view(1, 1, -1, 1, 1), persistent=False)

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        b, t = videos.shape[:2]
        frames = videos.flatten(0, 1)
        if self.resize is not None:
            size = resized_size(*frames.shape[-2:], self.resize)
            if size != tuple(frames.shape[-2:]):
                frames = F.interpolate(frames, size=size, mode=self.mode, align_corners=False, antialias=self.antialias)
        if self.crop is not None:
            frames = centre_crop(frames, self.crop, self.crop_rounding)
        x = frames.unflatten(0, (b, t)) * self.scale + self.shift
        if self.normalise:
            x = (x - self.mean) / self.std
        return x.transpose(1, 2) if self.layout == "BCTHW" else x
