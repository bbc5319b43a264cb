"""A picture of a dataset for a person to look at: a few frames of one video per class."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from deepsava.data.base import VideoDataset  # noqa: E402


def save_preview(dataset: VideoDataset, path, frames: int = 6, max_classes: int = 12) -> Path:
    """Write a grid image: one row per class (its first video), ``frames`` evenly spaced frames across."""
    path = Path(path)
    firsts = {}
    for i, label in enumerate(dataset.labels):
        if label not in firsts and len(firsts) < max_classes:
            firsts[label] = i
    rows = sorted(firsts)
    fig, axes = plt.subplots(len(rows), frames, figsize=(1.3 * frames + 1.2, 1.3 * len(rows)), squeeze=False)
    for row, label in zip(axes, rows):
        clip = dataset[firsts[label]][0].numpy()  # (T, C, H, W)
        for ax, t in zip(row, np.linspace(0, len(clip) - 1, frames).round().astype(int)):
            image = clip[t].transpose(1, 2, 0)
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"t={t}", fontsize=7)
        row[0].set_ylabel(dataset.classes[label], fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
