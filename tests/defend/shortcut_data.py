"""A small video set where adversarial training has something to fix (not part of the package).

Three classes told apart two ways: a robust feature (the brightness level,
0.25 / 0.50 / 0.75 with +-0.03 jitter by default: an l-inf perturbation needs more
than 0.09 to cross it) and a shortcut (a faint pixel pattern of amplitude 0.02 that
also encodes the class). A model trained on clean videos leans partly on the
shortcut, which a 16/255 perturbation flips; adversarial training moves it to
the brightness. Clips are 2 frames of 16x16 (models resize inside), so a whole
training run takes seconds on a CPU.
"""

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

EPS = 16 / 255  # the l-inf radius tests train and attack with


class ShortcutVideos(Dataset):
    """``n`` clips (2, 3, 16, 16) in [0, 1] with labels 0, 1, 2 in turn; fixed by ``seed``.

    ``jitter`` is the width of the uniform spread of a clip's brightness level around its class's.
    """

    classes = ["dark", "mid", "bright"]

    def __init__(self, n: int, seed: int, frames: int = 2, size: int = 16, jitter: float = 0.06):
        g = torch.Generator().manual_seed(seed)
        self.labels = [i % 3 for i in range(n)]
        yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        patterns = [(xx + yy) % 2, xx % 2, yy % 2]
        clips = []
        for y in self.labels:
            level = 0.25 + 0.25 * y + (torch.rand(1, generator=g).item() - 0.5) * jitter
            coarse = torch.rand(frames, 3, 4, 4, generator=g) - 0.5
            texture = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
            clips.append((level + 0.1 * texture + 0.02 * (patterns[y].float() * 2 - 1)).clamp(0, 1))
        self.videos = torch.stack(clips)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.videos[i], self.labels[i]


class PhaseVideos(Dataset):
    """``n`` clips (2, 3, 16, 16) of two classes where a one-pixel warp fools and bounded noise does not.

    The robust feature is the brightness level (0.35 / 0.65, spread over a width
    of 0.5, so the classes overlap and brightness alone separates about 80% of the
    clips); the shortcut is vertical stripes of amplitude 0.15 whose phase encodes
    the class. Noise of 8/255 cannot invert the stripes (that takes 0.3), but a
    flow of one pixel shifts them into the other class's phase: training against
    noise leaves the stripes trusted, training against flow + noise does not.
    """

    classes = ["dark", "bright"]

    def __init__(self, n: int, seed: int, frames: int = 2, size: int = 16):
        g = torch.Generator().manual_seed(seed)
        self.labels = [i % 2 for i in range(n)]
        stripes = (torch.arange(size).expand(size, size) % 2).float() * 2 - 1
        clips = []
        for y in self.labels:
            level = 0.35 + 0.3 * y + (torch.rand(1, generator=g).item() - 0.5) * 0.5
            coarse = torch.rand(frames, 3, 4, 4, generator=g) - 0.5
            texture = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
            clips.append((level + 0.05 * texture + 0.15 * (1 - 2 * y) * stripes).clamp(0, 1))
        self.videos = torch.stack(clips)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.videos[i], self.labels[i]
