"""Saliency (paper Appendix D, Figure D.10): where in each frame, and in which frames, a model looks.

The saliency of a pixel is the magnitude of the gradient of the true class's
logit (Simonyan et al., 2014; ``score="loss"``: of the cross-entropy loss
instead) with respect to that pixel, the largest over its colour channels
(:mod:`deepsava.select.saliency`). It is computed on the whole video at once, so
unlike the paper's per-frame Keras-vis maps it does see the temporal model: a
frame the model ignores gets a zero map. The temporal saliency curve is each
frame's share of the video's total saliency.

``deepsava saliency`` draws, for one video and any number of models (an
undefended and a defended one side by side, as Figure D.10), the heat maps
overlaid on the frames and the curves, and stores them, with each model's
probability of the true class, as ``saliency-<video>.npz`` in its output folder,
where ``deepsava report`` finds them. The paper's observation that attacking a
frame with little saliency can work better is measured by the experiment
``configs/saliency.yaml`` (the ``saliency`` selector on the most, or with
``least: true`` the least, salient frame of the same curve).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepsava.attacks.criteria import Misclassification
from deepsava.evaluate.figures import _figure, _png
from deepsava.select.saliency import input_gradient, pixel_saliency, temporal_saliency  # noqa: F401 (re-exported)

OVERLAY_ALPHA = 0.9  # opacity of the heat where saliency is largest
TOP_SHARE = 0.05  # concentration: the share of the saliency held by this fraction of the most salient pixels


def saliency_maps(model, videos: torch.Tensor, labels: torch.Tensor, score: str = "logit") -> torch.Tensor:
    """Input-gradient saliency of videos (B, T, C, H, W) for their labels (B,) -> (B, T, H, W), non-negative.

    ``score``: "logit" (the label's logit, default) or "loss" (its cross-entropy).
    """
    was_training = model.training
    model.eval()
    try:
        gradient = input_gradient(model, Misclassification(), videos, labels, score)
    finally:
        model.train(was_training)
    return pixel_saliency(gradient)


def total_saliency(maps: np.ndarray) -> float:
    """The summed saliency of one video's maps (T, H, W): the size of its input gradient."""
    return float(maps.sum(dtype=np.float64))


def top_share(maps: np.ndarray, fraction: float = TOP_SHARE) -> float:
    """Share of one video's saliency (T, H, W) held by its ``fraction`` most salient pixels (nan without saliency)."""
    values = np.sort(maps.ravel().astype(np.float64))[::-1]
    total = values.sum()
    return float(values[: max(1, round(fraction * values.size))].sum() / total) if total > 0 else float("nan")


@dataclass
class SaliencyView:
    """What Figure D.10 shows for one video: its frames and, per model, its maps, curve, prediction and p(label)."""

    video: str
    label: str
    frames: np.ndarray  # (T, H, W, 3) in [0, 1]
    models: list[str]
    maps: np.ndarray  # (M, T, H, W)
    curves: np.ndarray  # (M, T)
    predictions: list[str]
    confidence: np.ndarray  # (M,) each model's softmax probability of the label
    score: str = "logit"  # what the maps are the gradient of: "logit" or "loss"

    def save(self, folder: str | Path) -> Path:
        path = saliency_file(folder, self.video)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, video=self.video, label=self.label, frames=self.frames.astype(np.float16),
                            models=np.array(self.models), maps=self.maps.astype(np.float32), curves=self.curves,
                            predictions=np.array(self.predictions), confidence=self.confidence, score=self.score)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SaliencyView":
        """Read a view; files written before p(label) was stored hold loss-gradient maps and no confidence."""
        with np.load(path) as data:
            models = [str(m) for m in data["models"]]
            confidence = data["confidence"] if "confidence" in data else np.full(len(models), np.nan)
            return cls(str(data["video"]), str(data["label"]), data["frames"].astype(np.float32), models,
                       data["maps"], data["curves"], [str(p) for p in data["predictions"]], confidence,
                       str(data["score"]) if "score" in data else "loss")


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
    fig.suptitle(f"saliency ({'class logit' if view.score == 'logit' else 'loss'} gradient) of {view.video}"
                 f" (label {view.label}); predictions: "
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
