"""PGD adversarial training (paper Algorithm 3; Madry et al. 2018).

For every training batch, K signed-gradient steps of size alpha on the
cross-entropy from a uniform random start in the l-infinity ball of radius eps,
each projected back onto the ball and onto [0, 1]
(:meth:`deepsava.attacks.PGD.perturb`); the model then takes one optimiser step
on the cross-entropy of the result. Algorithm 3 writes the inner step without a
sign and without a projection; we follow Madry et al., whose method it names.

By default every frame is perturbed (Madry et al.'s dense threat model); with
``frames=k`` only k frames per video (``mask``: the first k, or k drawn at random
per video and batch), the sparse threat model of the attacks defended against.
"""

import torch

from deepsava.attacks import PGD
from deepsava.defend.base import Defence, check_ball, check_frames, training_frames


class PGDDefence(Defence):
    """Madry et al.'s adversarial training on videos.

    Args:
        eps: l-infinity radius on the [0, 1] scale (default 8/255).
        alpha: step size (default 1/255, the paper's).
        steps: PGD steps K per batch (default 10, as the authors' code).
        random_start: start from a uniform point of the ball (default True).
        frames: None (every frame, default) or k perturbed frames per video.
        mask: which k frames: "first" (default) or "random".
    """

    name = "pgd"

    def __init__(self, eps: float = 8 / 255, alpha: float = 1 / 255, steps: int = 10, random_start: bool = True,
                 frames: int | None = None, mask: str = "first"):
        check_ball(eps, alpha, steps)
        check_frames(frames, mask)
        self.eps, self.alpha, self.steps, self.random_start = eps, alpha, steps, random_start
        self.frames, self.mask = frames, mask

    def params(self) -> dict:
        return {"method": self.name, "eps": self.eps, "alpha": self.alpha, "steps": self.steps,
                "random_start": self.random_start, "frames": self.frames, "mask": self.mask}

    def adversarial(self, model, videos: torch.Tensor, labels: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        attack = PGD(model, eps=self.eps, alpha=self.alpha, steps=self.steps, random_start=self.random_start)
        frames = training_frames(videos, self.frames, self.mask, seeds)
        return attack.perturb(videos, labels, frames, seeds=seeds)
