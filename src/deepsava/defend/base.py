"""The trainer interface every defence implements, and plain (undefended) training as its default.

A defence turns a training batch into a loss in two steps, both called by
:func:`deepsava.defend.trainer.adversarial_train`:

1. ``adversarial(model, videos, labels, seeds)``: the inputs to train on,
   (B, T, C, H, W) in [0, 1]. The trainer calls it with the bare model in eval
   mode (batch-norm running statistics, no dropout), so a video's adversarial
   example depends on that video and its seed only, never on the rest of its
   batch: one process and N processes make the same examples.
2. ``loss(forward, videos, adversarial, labels)``: the training loss and the
   logits whose accuracy is reported, computed with ``forward`` (the model in
   training mode, wrapped for DistributedDataParallel when sharded).

``seeds`` holds one integer per video, derived from the run's seed, the epoch
and the video's index in the training set, for whatever the defence draws at
random (random starts, random frames).

A defence may also change the training set once before training
(``training_set``): that is how injection adds its pre-generated examples.
"""

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from deepsava.errors import InvalidArgumentError
from deepsava.runtime import derived_seed

MASKS = ("first", "random")


class Defence:
    """Plain training on clean videos: the undefended comparison, trained exactly like the defences."""

    name = "none"

    def params(self) -> dict:
        """The method and its parameters, recorded in the checkpoint's metadata."""
        return {"method": self.name}

    def training_set(self, model, train_set: Dataset, *, ranks, workdir, seed: int, source: dict,
                     progress: bool) -> Dataset:
        """The set to train on (default: ``train_set`` as it is).

        ``workdir`` is the output path stem; ``source`` identifies the model, its
        starting weights and the data (the part of the run's identity that what is
        made here depends on).
        """
        return train_set

    def adversarial(self, model, videos: torch.Tensor, labels: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        """Videos to train on (B, T, C, H, W); default the clean videos themselves."""
        return videos

    def loss(self, forward, videos: torch.Tensor, adversarial: torch.Tensor,
             labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy on the training inputs -> (scalar loss, logits (B, K))."""
        logits = forward(adversarial)
        return F.cross_entropy(logits, labels), logits


def check_frames(frames: int | None, mask: str) -> None:
    """Validate a defence's frame choice: ``frames`` None (all) or k > 0, ``mask`` first or random."""
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int) or frames <= 0):
        raise InvalidArgumentError(f"frames must be a positive integer or None (every frame), got {frames!r}")
    if mask not in MASKS:
        raise InvalidArgumentError(f"unknown mask {mask!r}: use one of {', '.join(MASKS)}")


def training_frames(videos: torch.Tensor, frames: int | None, mask: str, seeds: list[int]) -> torch.Tensor:
    """Indices (B, k) of the frames a defence perturbs in each video (B, T, C, H, W).

    ``frames=None``: every frame. Otherwise k frames: the first k (``mask="first"``,
    the frames the paper's evaluation attacks) or k distinct frames drawn per video
    from its seed (``mask="random"``), sorted.
    """
    b, t = videos.shape[:2]
    if frames is None:
        return torch.arange(t, device=videos.device).expand(b, -1)
    if frames > t:
        raise InvalidArgumentError(f"frames={frames} exceeds the clip length T={t}")
    if mask == "first":
        return torch.arange(frames, device=videos.device).expand(b, -1)
    generators = [torch.Generator().manual_seed(derived_seed(s, "frames")) for s in seeds]
    rows = [torch.randperm(t, generator=g)[:frames].sort().values for g in generators]
    return torch.stack(rows).to(videos.device)


def check_ball(eps: float, alpha: float, steps: int) -> None:
    """Validate an l-infinity inner maximisation: eps in (0, 1], alpha > 0, steps >= 1."""
    if not 0.0 < eps <= 1.0:
        raise InvalidArgumentError(f"eps must lie in (0, 1], got {eps}")
    if not alpha > 0.0:
        raise InvalidArgumentError(f"alpha must be positive, got {alpha}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidArgumentError(f"steps must be a positive integer, got {steps!r}")
