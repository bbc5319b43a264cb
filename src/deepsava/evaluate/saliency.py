"""Saliency (paper Appendix D, Figure D.10): where in each frame, and in which frames, a model looks.

The saliency of a pixel is the magnitude of the gradient of the classification
loss (cross-entropy of the true label, the attack's own adversarial loss) with
respect to that pixel, the largest over its colour channels (Simonyan et al.,
2014). It is computed on the whole video at once, so unlike the paper's
per-frame Keras-vis maps it does see the temporal model: a frame the model
ignores gets a zero map. The temporal saliency curve is each frame's share of
the video's total saliency.

``deepsava saliency`` draws, for one video and any number of models (an
undefended and a defended one side by side, as Figure D.10), the heat maps
overlaid on the frames and the curves, and stores them as ``saliency-<video>.npz``
in its output folder, where ``deepsava report`` finds them. The paper's
observation that attacking a frame with little saliency can work better is
measured by the experiment ``configs/saliency.yaml`` (the ``saliency`` selector
on the most, or with ``least: true`` the least, salient frame).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepsava.attacks.criteria import Misclassification
from deepsava.evaluate.figures import _figure, _png
from deepsava.select.saliency import loss_gradient

OVERLAY_ALPHA = 0.9  # opacity of the heat where saliency is largest


def saliency_maps(model, videos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Input-gradient saliency of videos (B, T, C, H, W) for their labels (B,) -> (B, T, H, W), non-negative."""
    was_training = model.training
    model.eval()
    try:
        gradient = loss_gradient(model, Misclassification(), videos, labels)
    finally:
        model.train(was_training)
    return gradient.abs().amax(dim=2)


def temporal_saliency(maps: torch.Tensor) -> torch.Tensor:
    """Each frame's share of the total saliency: maps (B, T, H, W) -> (B, T), rows summing to 1 (0 if no saliency)."""
    mass = maps.flatten(2).sum(dim=2)
    return mass / mass.sum(dim=1, keepdim=True).clamp_min(1e-30)


@dataclass
class SaliencyView:
    """What Figure D.10 shows for one video: its frames and, per model, its maps, curve and predictions."""

    video: str
    label: str
    frames: np.ndarray  # (T, H, W, 3) in [0, 1]
    models: list[str]
    maps: np.ndarray  # (M, T, H, W)
    curves: np.ndarray  # (M, T)
    predictions: list[str]

    def save(self, folder: str | Path) -> Path:
        path = saliency_file(folder, self.video)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, video=self.video, label=self.label, frames=self.frames.astype(np.float16),
                            models=np.array(self.models), maps=self.maps.astype(np.float32), curves=self.curves,
                            predictions=np.array(self.predictions))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SaliencyView":
        with np.load(path) as data:
            return cls(str(data["video"]), str(data["label"]), data["frames"].astype(np.float32),
                       [str(m) for m in data["models"]], data["maps"], data["curves"],
                       [str(p) for p in data["predictions"]])


def saliency_file(folder: str | Path, video: str) -> Path:
    """Where :meth:`SaliencyView.save` writes the view of ``video`` in ``folder``."""
    return Path(folder) / f"saliency-{_safe(video)}.npz"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-") or "video"


def shown_frames(num_frames: int, count: int = 10) -> list[int]:
    """``count`` evenly spaced frame indices out of ``num_frames`` (all when there are fewer)."""
    return sorted(set(np.linspace(0, num_frames - 1, min(count, num_frames)).round().astype(int).tolist()))


def overlay_figure(view: SaliencyView, columns: int = 10) -> bytes:
    """Frames with each model's saliency overlaid (one row per model, Figure D.10) -> PNG.

    Frames are shown in dimmed grey so the heat stands out. Each model's maps are
    scaled by that model's largest value over the whole video, so a frame the
    model barely uses shows (almost) no heat.
    """
    import matplotlib

    shown = shown_frames(view.frames.shape[0], columns)
    fig = _figure(1.3 * len(shown) + 0.4, 1.45 * len(view.models) + 0.5)
    axes = fig.subplots(len(view.models), len(shown), squeeze=False)
    cmap = matplotlib.colormaps["inferno"]
    for m, name in enumerate(view.models):
        peak = float(view.maps[m].max()) or 1.0
        for j, t in enumerate(shown):
            level = np.clip(view.maps[m, t] / peak, 0, 1)
            grey = 0.6 * view.frames[t].mean(axis=-1, keepdims=True)
            weight = OVERLAY_ALPHA * np.sqrt(level)[..., None]
            axes[m, j].imshow((1 - weight) * grey + weight * cmap(level)[..., :3], interpolation="nearest")
            axes[m, j].set_xticks([])
            axes[m, j].set_yticks([])
            if m == 0:
                axes[m, j].set_title(f"frame {t}", fontsize=7)
            if j == 0:
                axes[m, j].set_ylabel(name, fontsize=7)
    fig.suptitle(f"saliency of {view.video} (label {view.label}); predictions: "
                 + ", ".join(f"{n}: {p}" for n, p in zip(view.models, view.predictions)), fontsize=8)
    fig.tight_layout()
    return _png(fig)


def curve_figure(view: SaliencyView) -> bytes:
    """Each model's temporal saliency curve (share of the saliency per frame) -> PNG."""
    fig = _figure(6.0, 2.8)
    ax = fig.subplots()
    for name, curve in zip(view.models, view.curves):
        ax.plot(np.arange(len(curve)), 100 * curve, marker=".", label=name)
    ax.set_xlabel("frame")
    ax.set_ylabel("share of saliency (%)")
    ax.set_title(f"temporal saliency of {view.video}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
