"""Small deterministic video classifiers for fast attack tests (not part of the package)."""

import torch
from torch.utils.data import Dataset


class FramePooling(torch.nn.Module):
    """Per-frame conv features averaged over time -> logits; (B, T, C, H, W) -> (B, K)."""

    name = "toy"

    def __init__(self, num_classes: int = 4, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.num_classes = num_classes
        self.conv = torch.nn.Conv2d(3, 16, 5, padding=2)
        self.fc = torch.nn.Linear(16, num_classes)

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        b, t = videos.shape[:2]
        features = self.conv(videos.flatten(0, 1) * 2 - 1).relu().mean(dim=(2, 3))
        return self.fc(features.view(b, t, -1).mean(dim=1))


class OneFrame(torch.nn.Module):
    """Looks at a single frame only (its logits ignore every other frame)."""

    name = "toy-one-frame"

    def __init__(self, frame: int, num_classes: int = 4, seed: int = 0):
        super().__init__()
        self.frame = frame
        self.inner = FramePooling(num_classes, seed)
        self.num_classes = num_classes

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        return self.inner(videos[:, self.frame : self.frame + 1])


def videos_and_labels(model, batch: int = 4, frames: int = 8, size: int = 24, seed: int = 0):
    """Random smooth videos (B, T, 3, size, size) and the model's own clean predictions as labels."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch * frames, 3, size // 4, size // 4, generator=g)
    videos = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    videos = videos.view(batch, frames, 3, size, size).clamp(0, 1)
    with torch.no_grad():
        labels = model(videos).argmax(dim=1)
    return videos, labels


class BrightnessClips(Dataset):
    """Tiny learnable set: class k clips are noise around brightness (k + 1) / (K + 1)."""

    classes = ["dim", "mid", "bright"]

    def __init__(self, n: int = 24, frames: int = 4, size: int = 16, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.labels = [i % 3 for i in range(n)]
        level = (torch.tensor(self.labels, dtype=torch.float32) + 1) / 4
        noise = torch.rand(n, frames, 3, size, size, generator=gen) * 0.3 - 0.15
        self.videos = (level.view(n, 1, 1, 1, 1) + noise).clamp(0, 1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.videos[i], self.labels[i]


class FrameMeans(torch.nn.Module):
    """Linear in the channel means of each frame: (B, T, C, H, W) -> logits (B, K) = W . means (B, T*C) + b.

    Its input gradient is known: every pixel of frame t, channel c gets W[:, t*C + c] / (H*W).
    """

    name = "toy-frame-means"

    def __init__(self, frames: int = 6, num_classes: int = 3, seed: int = 0, gain: float = 10.0):
        super().__init__()
        torch.manual_seed(seed)
        self.num_classes = num_classes
        self.linear = torch.nn.Linear(frames * 3, num_classes)
        with torch.no_grad():
            self.linear.weight.mul_(gain)  # a change of a frame's means by a few hundredths can flip the class

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        return self.linear(videos.mean(dim=(3, 4)).flatten(1))
