"""I3D: Inflated Inception-v1 (Carreira & Zisserman 2017), RGB stream.

Parameter names and shapes are those of the widely shared PyTorch I3D RGB
checkpoints (``rgb_imagenet.pt``): ``Conv3d_1a_7x7.conv3d.weight``,
``Mixed_3b.b1b.bn.running_mean``, ``logits.conv3d.bias`` ... so such a file
loads strictly into the ``paper`` preset. Convolutions and max-pools use
TensorFlow "same" padding, computed from the input size at every call.
"""

import torch
import torch.nn.functional as F
from torch import nn

from deepsava.models.base import VideoClassifier, resize_frames

# (kind, name, args): conv -> (out, kernel, stride); pool -> (kernel, stride);
# mixed -> widths (b0, b1a, b1b, b2a, b2b, b3b), output = b0 + b1b + b2b + b3b.
PAPER_LAYERS = [
    ("conv", "Conv3d_1a_7x7", (64, (7, 7, 7), (2, 2, 2))),
    ("pool", "MaxPool3d_2a_3x3", ((1, 3, 3), (1, 2, 2))),
    ("conv", "Conv3d_2b_1x1", (64, (1, 1, 1), (1, 1, 1))),
    ("conv", "Conv3d_2c_3x3", (192, (3, 3, 3), (1, 1, 1))),
    ("pool", "MaxPool3d_3a_3x3", ((1, 3, 3), (1, 2, 2))),
    ("mixed", "Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("mixed", "Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("pool", "MaxPool3d_4a_3x3", ((3, 3, 3), (2, 2, 2))),
    ("mixed", "Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("mixed", "Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("mixed", "Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("mixed", "Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("mixed", "Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("pool", "MaxPool3d_5a_2x2", ((2, 2, 2), (2, 2, 2))),
    ("mixed", "Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("mixed", "Mixed_5c", (384, 192, 384, 48, 128, 128)),
]

# Same stages at small widths, one mixed block per stage, for 32x32 input.
TINY_LAYERS = [
    ("conv", "Conv3d_1a_7x7", (16, (3, 7, 7), (2, 2, 2))),
    ("conv", "Conv3d_2b_1x1", (16, (1, 1, 1), (1, 1, 1))),
    ("conv", "Conv3d_2c_3x3", (32, (3, 3, 3), (1, 1, 1))),
    ("pool", "MaxPool3d_3a_3x3", ((1, 3, 3), (1, 2, 2))),
    ("mixed", "Mixed_3b", (16, 16, 24, 8, 12, 12)),
    ("pool", "MaxPool3d_4a_3x3", ((3, 3, 3), (2, 2, 2))),
    ("mixed", "Mixed_4b", (32, 24, 40, 8, 16, 16)),
    ("pool", "MaxPool3d_5a_2x2", ((2, 2, 2), (2, 2, 2))),
    ("mixed", "Mixed_5b", (48, 32, 56, 12, 24, 24)),
]

# tiny's layers on 64x64 frames: the paper's max-pool after the stem brings them to tiny's 16x16 after it.
SMALL_LAYERS = TINY_LAYERS[:1] + [PAPER_LAYERS[1]] + TINY_LAYERS[1:]

LAYERS = {"paper": PAPER_LAYERS, "tiny": TINY_LAYERS, "small": SMALL_LAYERS}
INPUT_SIZE = {"paper": 224, "tiny": 32, "small": 64}
# The original's keep-probability 0.5; none for tiny and small (it slows learning).
DROPOUT = {"paper": 0.5, "tiny": 0.0, "small": 0.0}


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """TensorFlow "same" padding for ``F.pad`` on (T, H, W): extra pixel at the end when odd."""
    pads = []
    for s, k, st in zip(reversed(size), reversed(kernel), reversed(stride)):
        total = max(k - st, 0) if s % st == 0 else max(k - s % st, 0)
        pads += [total // 2, total - total // 2]
    return pads


class Unit3D(nn.Module):
    """Conv3d (+ BatchNorm + ReLU) with "same" padding; ``(B, C, T, H, W) -> (B, out, T', H', W')``."""

    def __init__(self, in_ch: int, out_ch: int, kernel=(1, 1, 1), stride=(1, 1, 1), bn_relu: bool = True):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.conv3d = nn.Conv3d(in_ch, out_ch, self.kernel, self.stride, bias=not bn_relu)
        self.bn = nn.BatchNorm3d(out_ch, eps=1e-3, momentum=0.01) if bn_relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride)))
        return F.relu(self.bn(x)) if self.bn is not None else x


class MaxPool3dSame(nn.Module):
    """Max-pool with TensorFlow "same" padding (padding never wins the max)."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride), value=float("-inf"))
        return F.max_pool3d(x, self.kernel, self.stride)


class InceptionModule(nn.Module):
    """Inflated Inception block: 1x1 | 1x1->3x3 | 1x1->3x3 | pool->1x1, concatenated on channels."""

    def __init__(self, in_ch: int, widths: tuple[int, ...]):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(in_ch, w0)
        self.b1a = Unit3D(in_ch, w1a)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a = Unit3D(in_ch, w2a)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_ch, w3b)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class I3D(VideoClassifier):
    """I3D on ``(B, T, 3, H, W)`` in ``[0, 1]``: resize to the preset size, scale to ``[-1, 1]``, logits ``(B, K)``.

    Head: spatial mean, temporal average over windows of 2 (the original
    2x7x7 average pool at 224 pixels), dropout, 1x1x1 conv, then logits
    averaged over time as in the original TensorFlow model.
    """

    head_prefix = "logits."

    def __init__(self, num_classes: int, preset: str = "tiny"):
        super().__init__("i3d", preset, num_classes)
        self.input_size = INPUT_SIZE[preset]
        layers = LAYERS[preset]
        self.layer_names = [name for _, name, _ in layers]
        in_ch = 3
        for kind, name, args in layers:
            if kind == "conv":
                out, kernel, stride = args
                self.add_module(name, Unit3D(in_ch, out, kernel, stride))
                in_ch = out
            elif kind == "pool":
                self.add_module(name, MaxPool3dSame(*args))
            else:
                block = InceptionModule(in_ch, args)
                self.add_module(name, block)
                in_ch = block.out_channels
        self.dropout = nn.Dropout(DROPOUT[preset])
        self.logits = Unit3D(in_ch, num_classes, bn_relu=False)

    def classify(self, videos: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = videos.shape
        frames = resize_frames(videos.reshape(b * t, c, h, w), self.input_size)
        x = frames.reshape(b, t, c, self.input_size, self.input_size).transpose(1, 2) * 2 - 1
        for name in self.layer_names:
            x = getattr(self, name)(x)
        x = x.mean(dim=(3, 4), keepdim=True)
        x = F.avg_pool3d(x, (min(2, x.shape[2]), 1, 1), stride=1)
        x = self.logits(self.dropout(x))
        return x.mean(dim=(2, 3, 4))


def _windows(length: int, kernel: int, stride: int) -> torch.Tensor:
    """Which inputs each output of a "same"-padded window op along time reads: (ceil(length / stride), length) 0/1."""
    front = same_padding((length,), (kernel,), (stride,))[0]
    starts = torch.arange(-(-length // stride)) * stride - front
    offsets = torch.arange(length) - starts.view(-1, 1)
    return ((offsets >= 0) & (offsets < kernel)).double()


def temporal_paths(preset: str, frames: int) -> torch.Tensor:
    """Paths from each input frame to I3D's time-averaged logits, along time only: (T,) float64.

    A property of the architecture, not of its weights: every convolution and pooling window along time
    (kernel, stride, TensorFlow "same" padding) is a 0/1 matrix from its inputs to its outputs, an Inception
    block is the sum of its four branches (1x1x1, two 3x3x3, 3x3x3 pool), the head's averaging windows of 2
    and its mean over time are averages. Entry t counts, with those weights, the ways frame t reaches the
    logits; with equal weights everywhere the input gradient of frame t would be proportional to it.
    """
    paths = torch.eye(frames, dtype=torch.float64)  # (positions now, input frames)
    for kind, _, args in LAYERS[preset]:
        length = paths.shape[0]
        if kind == "mixed":
            paths = (torch.eye(length, dtype=torch.float64) + 3 * _windows(length, 3, 1)) @ paths
        else:
            kernel, stride = (args[1], args[2]) if kind == "conv" else args
            paths = _windows(length, kernel[0], stride[0]) @ paths
    length = paths.shape[0]
    window = min(2, length)
    head = torch.stack([torch.eye(length, dtype=torch.float64)[j:j + window].mean(dim=0)
                        for j in range(length - window + 1)])
    return (head @ paths).mean(dim=0)
