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
from deepsava.errors import InvalidArgumentError
from deepsava.select.saliency import input_gradient, pixel_saliency, temporal_saliency

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


def saliency_study(models: list[tuple[torch.nn.Module, str]], clip: torch.Tensor, name: str, label: int | None,
                   classes: list[str] | None, score: str = "logit") -> SaliencyView:
    """Figure D.10 for one clip (T, C, H, W) and named models: maps, curves, predictions and p(label).

    ``label`` None: the first model's clean prediction. ``classes`` names the labels (None: the indices).
    """
    device = next(models[0][0].parameters()).device
    videos = clip[None].to(device)
    if label is None:
        with torch.no_grad():
            label = int(models[0][0](videos).argmax())
    for net, shown in models:
        if not 0 <= label < net.num_classes:
            raise InvalidArgumentError(f"class {label} does not exist for {shown} ({net.num_classes} classes)")
    target = torch.tensor([label], device=device)
    maps = torch.cat([saliency_maps(net, videos, target, score) for net, _ in models])  # (M, T, H, W)
    with torch.no_grad():
        probs = [net(videos).softmax(dim=1)[0] for net, _ in models]
    show = (lambda c: classes[c]) if classes else str  # noqa: E731
    return SaliencyView(name, show(label), clip.permute(0, 2, 3, 1).expand(-1, -1, -1, 3).numpy(),
                        [n for _, n in models], maps.cpu().numpy(), temporal_saliency(maps).cpu().numpy(),
                        [show(int(p.argmax())) for p in probs], np.array([float(p[label]) for p in probs]), score)
