"""Frame-wise Inception-v3: a 2D Inception network on every frame, logits averaged over frames.

``FrameCNN`` (pixels in ``[0, 1]`` -> pooled features) is shared with the
recurrent models. The ``paper`` preset is torchvision's ``inception_v3``
architecture at 299x299; ``tiny`` keeps the Inception structure (stem, mixed
blocks of 1x1 | 3x3 | double 3x3 | pool branches, pooling) at small widths on
32x32 frames; ``small`` is tiny on the native 64x64 frames, with a max-pool
after its stride-2 first convolution (as in torchvision's stem).
"""

import torch
from torch import nn
from torchvision.models import inception_v3

from deepsava.models.base import VideoClassifier, resize_frames

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_SIZE = {"paper": 299, "tiny": 32, "small": 64}


class BasicConv2d(nn.Sequential):
    """Conv2d (no bias) + BatchNorm + ReLU, as in torchvision's Inception-v3."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch, eps=1e-3),
            nn.ReLU(inplace=True),
        )


class MixedBlock2d(nn.Module):
    """Inception block: 1x1 | 1x1->3x3 | 1x1->3x3->3x3 | avgpool->1x1; ``(N, in, H, W) -> (N, out, H, W)``."""

    def __init__(self, in_ch: int, widths: tuple[int, ...]):
        super().__init__()
        w1, w3a, w3b, wda, wdb, wp = widths
        self.branch1x1 = BasicConv2d(in_ch, w1, 1)
        self.branch3x3 = nn.Sequential(BasicConv2d(in_ch, w3a, 1), BasicConv2d(w3a, w3b, 3))
        self.branch3x3dbl = nn.Sequential(
            BasicConv2d(in_ch, wda, 1), BasicConv2d(wda, wdb, 3), BasicConv2d(wdb, wdb, 3)
        )
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), BasicConv2d(in_ch, wp, 1))
        self.out_channels = w1 + w3b + wdb + wp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch3x3(x), self.branch3x3dbl(x), self.branch_pool(x)], 1)


class TinyInception(nn.Sequential):
    """Small Inception network: ``(N, 3, 32, 32)`` normalised -> features ``(N, 96 * grid * grid)``.

    The last feature map is average-pooled to a ``grid x grid`` layout rather
    than to one vector: at this scale global pooling discards where things
    are, which the recurrent head needs to follow motion. ``stem_pool`` adds a
    3x3 stride-2 max-pool after the first convolution, for ``(N, 3, 64, 64)``.
    """

    def __init__(self, grid: int = 4, stem_pool: bool = False):
        mixed_5b = MixedBlock2d(32, (16, 12, 16, 12, 16, 16))
        mixed_6b = MixedBlock2d(mixed_5b.out_channels, (24, 16, 24, 16, 24, 24))
        stem = [BasicConv2d(3, 16, 3, stride=2)] + ([nn.MaxPool2d(3, 2, 1)] if stem_pool else [])
        super().__init__(
            *stem,
            BasicConv2d(16, 32, 3),
            nn.MaxPool2d(3, 2, 1),
            mixed_5b,
            nn.MaxPool2d(3, 2, 1),
            mixed_6b,
            nn.AdaptiveAvgPool2d(grid),
            nn.Flatten(),
        )
        self.out_features = mixed_6b.out_channels * grid * grid


class FrameCNN(nn.Module):
    """Frames ``(N, 3, H, W)`` in ``[0, 1]`` -> pooled features ``(N, D)``; resizes and normalises inside.

    ``paper``: torchvision ``inception_v3`` (D = 2048) with its classifier
    removed; ``transform_input=True`` as torchvision sets for its ImageNet
    weights, so after the ImageNet mean/std normalisation the network sees
    the ``[-1, 1]`` scaling those weights were trained on.
    """

    def __init__(self, preset: str):
        super().__init__()
        self.input_size = INPUT_SIZE[preset]
        if preset == "paper":
            self.body = inception_v3(weights=None, aux_logits=False, init_weights=False, transform_input=True)
            self.body.fc = nn.Identity()
            self.out_features = 2048
        else:
            self.body = TinyInception(stem_pool=preset == "small")
            self.out_features = self.body.out_features
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = (resize_frames(frames, self.input_size) - self.mean) / self.std
        return self.body(x)


def torchvision_to_frame_cnn(state: dict) -> dict:
    """Rename torchvision Inception-v3 keys (``Conv2d_1a_3x3.conv.weight``) to ``cnn.body.*``; drop aux and fc."""
    return {f"cnn.body.{k}": v for k, v in state.items() if not k.startswith(("AuxLogits.", "fc."))}


def is_torchvision_inception(state: dict) -> bool:
    return "Conv2d_1a_3x3.conv.weight" in state


class InceptionV3(VideoClassifier):
    """Frame-wise classifier: ``(B, T, 3, H, W)`` -> per-frame logits averaged over T -> ``(B, K)``."""

    head_prefix = "fc."

    def __init__(self, num_classes: int, preset: str = "tiny"):
        super().__init__("inception-v3", preset, num_classes)
        self.cnn = FrameCNN(preset)
        self.fc = nn.Linear(self.cnn.out_features, num_classes)

    def classify(self, videos: torch.Tensor) -> torch.Tensor:
        b, t = videos.shape[:2]
        logits = self.fc(self.cnn(videos.flatten(0, 1)))
        return logits.view(b, t, -1).mean(1)

    def translate_state_dict(self, state: dict) -> tuple[dict, tuple[str, ...]]:
        """Accept this model's own keys or torchvision's ImageNet file (its fc is kept only for 1000 classes)."""
        if is_torchvision_inception(state):
            renamed = torchvision_to_frame_cnn(state)
            renamed.update({k: v for k, v in state.items() if k.startswith("fc.")})
            return renamed, ()
        return state, ()
