"""TRADES (Zhang et al. 2019), which the paper's limitations section reports trying.

The training loss trades clean accuracy against robustness:

    CE(f(X), y)  +  beta * KL(f(X) || f(X'))

where X' maximises the KL term inside the l-infinity ball of radius eps around X
(K signed steps of size alpha, each projected onto the ball and [0, 1]) from
Zhang et al.'s start X + 0.001·N(0, 1). The inner maximisation is
:class:`~deepsava.attacks.PGD`'s loop with the KL to the clean prediction as its
objective. In the training loss the clean and the adversarial videos go through
the model in two forwards, as in Zhang et al.'s code, so that batch-norm layers in
training mode normalise each by its own statistics (one forward of the 2B videos
would pool them); the KL is averaged over videos (``batchmean``), as there.

Defaults are Zhang et al.'s CIFAR-10 settings: eps = 0.031 (8/255), alpha = 0.007
(about 1.8/255), K = 10, beta = 6. The shipped ``inception-v3-trades`` overrides
alpha and K (2/255, 5) to match the shipped PGD and combined models it is compared with.
"""

import torch
import torch.nn.functional as F

from deepsava.attacks import PGD
from deepsava.defend.base import Defence, check_ball, check_frames, training_frames
from deepsava.errors import InvalidArgumentError
from deepsava.perturb import gather_frames

START_STD = 0.001  # Zhang et al.'s random start: X + 0.001 * N(0, 1)
ALPHA = 0.007  # Zhang et al.'s inner step (CIFAR-10)


class KLAttack(PGD):
    """PGD that maximises KL(p_clean || f(X')): its "labels" are the clean class probabilities (B, K)."""

    name = "pgd-kl"

    def adversarial_loss(self, logits: torch.Tensor, clean_probs: torch.Tensor) -> torch.Tensor:
        """Per-video objective to minimise: -KL(p_clean || softmax(logits)) -> (B,)."""
        return -F.kl_div(logits.log_softmax(dim=1), clean_probs, reduction="none").sum(dim=1)

    def is_fooled(self, logits: torch.Tensor, clean_probs: torch.Tensor) -> torch.Tensor:
        return logits.argmax(dim=1) != clean_probs.argmax(dim=1)


class TradesDefence(Defence):
    """TRADES adversarial training on videos.

    Args:
        eps: l-infinity radius on the [0, 1] scale (default 8/255).
        alpha: step size (default 0.007, Zhang et al.'s).
        steps: inner steps K per batch (default 10).
        beta: weight of the KL term (default 6.0, Zhang et al.'s).
        frames: None (every frame, default) or k perturbed frames per video.
        mask: which k frames: "first" (default) or "random".
    """

    name = "trades"

    def __init__(self, eps: float = 8 / 255, alpha: float = ALPHA, steps: int = 10, beta: float = 6.0,
                 frames: int | None = None, mask: str = "first"):
        check_ball(eps, alpha, steps)
        check_frames(frames, mask)
        if not beta >= 0.0:
            raise InvalidArgumentError(f"beta must be non-negative, got {beta}")
        self.eps, self.alpha, self.steps, self.beta = eps, alpha, steps, beta
        self.frames, self.mask = frames, mask

    def params(self) -> dict:
        return {"method": self.name, "eps": self.eps, "alpha": self.alpha, "steps": self.steps, "beta": self.beta,
                "frames": self.frames, "mask": self.mask}

    def adversarial(self, model, videos: torch.Tensor, labels: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        with torch.no_grad():
            clean_probs = model(videos).softmax(dim=1)
        frames = training_frames(videos, self.frames, self.mask, seeds)
        shape = gather_frames(videos, frames).shape[1:]
        gaussian = [torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds]
        start = (START_STD / self.eps) * torch.stack(gaussian).to(videos)  # in units of eps, as PGD takes it
        attack = KLAttack(model, eps=self.eps, alpha=self.alpha, steps=self.steps)
        return attack.optimise(videos, clean_probs, frames, self.steps, early_stop=False, start=start).adversarial

    def loss(self, forward, videos, adversarial, labels):
        clean, adv = forward(videos), forward(adversarial)
        robust = F.kl_div(adv.log_softmax(dim=1), clean.softmax(dim=1), reduction="batchmean")
        return F.cross_entropy(clean, labels) + self.beta * robust, clean
