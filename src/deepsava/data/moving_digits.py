"""moving-digits: Moving MNIST sequences generated offline, and a reader for the standard file.

The layout is that of Srivastava et al. (2015): grey ``64 × 64`` frames in which two
``28 × 28`` digits move in straight lines and bounce off the borders, overlapping
digits combined by their maximum. There is no MNIST here, so the digits are
rendered from the DejaVu fonts bundled with matplotlib (its FreeType rasteriser,
the one the Agg backend uses), with a random font (sans, serif, mono; regular,
bold, oblique), size, rotation (±20°) and stroke thickening.

Items are ``(sequence float32 (T, 1, H, W) in [0, 1], 0)``: the label is unused.
For next-frame prediction, :func:`split_sequence` cuts a sequence (or a batch)
into the usual first 10 input frames and next 10 target frames.
"""

from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib import ft2font
from deepsava.progress import progress_bar
from torch.utils.data import Subset

from deepsava.data.base import ArrayVideoDataset
from deepsava.data.cache import atomic_path, cache_root, open_array
from deepsava.errors import InvalidArgumentError, InvalidDatasetError

VERSION = 1  # bump when the generator changes, so stale caches are not reused
DIGIT = 28  # digit patch side, pixels
FRAMES = 20
INPUT_FRAMES = 10
STEP = 0.1  # per frame, as a fraction of the free range (size - 28): 3.6 px at 64, as in the original
FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
)  # fmt: skip


def moving_digits(
    split: str = "train",
    frames: int = FRAMES,
    size: int = 64,
    seed: int = 0,
    sequences: int = 1000,
    progress: bool = True,
) -> ArrayVideoDataset:
    """``sequences`` generated sequences ``(frames, 1, size, size)`` of one split, cached on first use.

    The train and test splits are drawn from different random streams of ``seed``.
    """
    if split not in ("train", "test"):
        raise InvalidArgumentError(f"unknown split {split!r}: use train or test")
    if frames < 2 or size < DIGIT or sequences < 1:
        raise InvalidArgumentError(
            f"moving-digits needs frames >= 2, size >= {DIGIT} and sequences >= 1, got {frames}, {size}, {sequences}"
        )
    path = cache_root() / f"moving-digits-v{VERSION}-{split}-n{sequences}-t{frames}-s{size}-seed{seed}.npy"
    if not path.exists():
        rng = np.random.default_rng([seed, 0 if split == "train" else 1])
        with atomic_path(path) as tmp, progress_bar("sequences", enabled=progress, transient=True) as bar:
            videos = open_array(tmp, (sequences, frames, 1, size, size))
            task = bar.add_task(f"generating moving-digits {split} ({sequences} sequences)", total=sequences)
            for i in range(sequences):
                videos[i, :, 0] = render_sequence(rng, frames, size)
                bar.advance(task)
            videos.flush()
            del videos
    videos = np.load(path, mmap_mode="r")
    ids = [f"moving-digits/{split}/{i:05d}" for i in range(sequences)]
    return ArrayVideoDataset(videos, range(sequences), ["moving-digits"], ids, [0] * sequences, source=path)


def load_moving_mnist(path) -> ArrayVideoDataset:
    """The standard ``mnist_test_seq.npy`` (uint8 ``(20, N, 64, 64)``) as a dataset of ``N`` sequences.

    Items are ``(float32 (20, 1, 64, 64), 0)``; the file is memory-mapped, not loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidDatasetError(f"{path}: Moving MNIST file not found")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        reason = "it holds pickled Python objects, which are never loaded" if "pickle" in str(err) else str(err)
        raise InvalidDatasetError(f"{path}: not a .npy array file ({reason})") from None
    if data.ndim != 4 or data.dtype != np.uint8 or data.shape[2] != data.shape[3]:
        raise InvalidDatasetError(
            f"{path}: expected a uint8 array of shape (frames, sequences, 64, 64), got {data.dtype} {data.shape}"
        )
    videos = data.transpose(1, 0, 2, 3)[:, :, None]  # (N, T, 1, H, W), still a memory map
    count = videos.shape[0]
    ids = [f"{path.name}/{i:05d}" for i in range(count)]
    return ArrayVideoDataset(videos, range(count), ["moving-digits"], ids, [0] * count, source=path)


def split_sequence(sequence: torch.Tensor, inputs: int = INPUT_FRAMES) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut ``(T, C, H, W)`` or ``(B, T, C, H, W)`` along time into the first ``inputs`` frames and the rest."""
    if sequence.dim() not in (4, 5):
        raise InvalidArgumentError(f"expected (T, C, H, W) or (B, T, C, H, W), got shape {tuple(sequence.shape)}")
    steps = sequence.shape[-4]
    if not 0 < inputs < steps:
        raise InvalidArgumentError(f"inputs must be in 1..{steps - 1} for {steps} frames, got {inputs}")
    first, rest = sequence.split([inputs, steps - inputs], dim=-4)
    return first, rest


def render_sequence(rng: np.random.Generator, frames: int = FRAMES, size: int = 64, digits: int = 2) -> np.ndarray:
    """One sequence: uint8 ``(frames, size, size)`` with ``digits`` random digits bouncing around."""
    free = size - DIGIT
    position = rng.uniform(0, free, (digits, 2))
    angle = rng.uniform(0, 2 * np.pi, digits)
    velocity = STEP * free * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    glyphs = [render_digit(rng, int(rng.integers(10))) for _ in range(digits)]
    out = np.zeros((frames, size, size), np.uint8)
    for t in range(frames):
        for glyph, (x, y) in zip(glyphs, position.astype(int)):
            patch = out[t, y : y + DIGIT, x : x + DIGIT]
            np.maximum(patch, glyph, out=patch)
        position += velocity
        low, high = position < 0, position > free  # bounce off the borders
        position = np.where(low, -position, np.where(high, 2 * free - position, position))
        velocity = np.where(low | high, -velocity, velocity)
    return out


def render_digit(rng: np.random.Generator, digit: int) -> np.ndarray:
    """A ``28 × 28`` uint8 image of ``digit`` in a random font, size, rotation and thickness, centred."""
    font = _font(FONTS[rng.integers(len(FONTS))])
    font.clear()
    font.set_size(rng.uniform(22, 30), 72)
    font.set_text(str(digit), angle=rng.uniform(-20, 20))
    font.draw_glyphs_to_bitmap(antialiased=True)
    glyph = np.asarray(font.get_image())
    rows, cols = np.nonzero(glyph)
    glyph = glyph[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1][:DIGIT, :DIGIT]
    if rng.random() < 0.4:  # thicker stroke: a one-pixel dilation
        padded = np.pad(glyph, 1)
        shifts = [padded[1:-1, 1:-1], padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
        glyph = np.maximum.reduce(shifts)
    out = np.zeros((DIGIT, DIGIT), np.uint8)
    top, left = (DIGIT - glyph.shape[0]) // 2, (DIGIT - glyph.shape[1]) // 2
    out[top : top + glyph.shape[0], left : left + glyph.shape[1]] = glyph
    return out


@lru_cache(maxsize=None)
def _font(name: str) -> ft2font.FT2Font:
    return ft2font.FT2Font(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name))


def prediction_split(split: str, moving_mnist: str | Path | None = None, sequences: int = 1000, seed: int = 0):
    """The sequences of the next-frame study: generated moving-digits, or the Moving MNIST file's first 90%
    (``split="train"``) / last 10% (``"test"``)."""
    if moving_mnist is None:
        return moving_digits(split=split, seed=seed, sequences=sequences)
    data = load_moving_mnist(moving_mnist)
    cut = len(data) * 9 // 10
    return Subset(data, range(cut) if split == "train" else range(cut, len(data)))
