"""FGSM and PGD under an l-infinity budget, on every frame or on selected frames.

PGD (Madry et al. 2018): from a uniform random start in the epsilon-ball (optional),
``steps`` signed-gradient steps of size ``alpha`` on the cross-entropy (ascent;
descent on the target's cross-entropy when targeted), each followed by projection
onto the epsilon-ball around the clean frames and onto [0, 1]. FGSM is one step of
size epsilon from the clean video. With ``frames=None`` (default) every frame is
perturbed; with an integer k only the k frames a selector picks, the rest stay
bit-identical.

Unlike the generators built for the paper's comparisons, PGD does not stop early
by default: adversarial training wants the full-strength example. ``perturb``
returns adversarial videos for a whole batch (misclassified videos included) for
use inside a training loop; calling the attack gives the usual AttackResult.
"""

import torch

from deepsava.attacks.base import Optimised, VideoAttack, check_finite
from deepsava.errors import InvalidArgumentError
from deepsava.perturb import gather_frames, scatter_frames


def uniform_start(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A random start uniform in [-1, 1]^shape (float32, CPU), drawn from a generator seeded ``seed``."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class PGD(VideoAttack):
    """l-infinity projected gradient descent on videos.

    Args:
        model: video classifier taking (B, T, C, H, W) in [0, 1].
        eps: l-infinity radius on the [0, 1] scale (default 8/255).
        alpha: step size (default 2/255).
        steps: number of steps K (default 10).
        random_start: start from a uniform point of the epsilon-ball (default True).
        frames: None (default) perturbs every frame; an integer k only k selected frames.
        selector: frame selector when ``frames`` is given (default "first").
        early_stop: stop each video the moment it is fooled (default False).
    """

    name = "pgd"

    def __init__(self, model, eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 10,
                 random_start: bool = True, frames: int | None = None, selector="first", early_stop: bool = False,
                 targeted: bool = False, seed: int = 0, selector_options: dict | None = None):
        check_finite(eps=eps, alpha=alpha)
        if not 0.0 < eps <= 1.0:
            raise InvalidArgumentError(f"eps must lie in (0, 1], got {eps}")
        if not alpha > 0.0:
            raise InvalidArgumentError(f"alpha must be positive, got {alpha}")
        self.dense = frames is None
        super().__init__(model, 1 if self.dense else frames, "first" if self.dense else selector, steps, targeted,
                         seed, selector_options)
        self.eps = eps
        self.alpha = alpha
        self.random_start = random_start
        self.early_stop = early_stop

    def __call__(self, videos, labels, targets=None):
        if self.dense and torch.is_tensor(videos) and videos.dim() == 5:
            self.frames = videos.shape[1]
        return super().__call__(videos, labels, targets)

    def params(self) -> dict:
        params = {**super().params(), "eps": self.eps, "alpha": self.alpha, "random_start": self.random_start,
                  "early_stop": self.early_stop}
        if self.dense:
            params.update(frames="all", selector="all")
        return params

    def perturb(self, videos: torch.Tensor, labels, frames: torch.Tensor | None = None,
                seeds: list[int] | None = None) -> torch.Tensor:
        """Adversarial videos (B, T, C, H, W) for every video of the batch, no early stop.

        ``frames`` (B, k) fixes the perturbed frames; by default every frame (dense)
        or the selector's choice. ``seeds`` (one int per video) draws each video's
        random start from its own generator, so that a video's adversarial example
        does not depend on the batch it is in (what sharded training needs). The
        model's train/eval mode is left as it is.
        """
        labels = torch.as_tensor(labels, device=videos.device).long().view(-1)
        if frames is None:
            b, t = videos.shape[:2]
            if self.dense:
                frames = torch.arange(t, device=videos.device).expand(b, -1)
            else:
                frames = self.selector.select(self, videos, labels, self.frames, torch.Generator().manual_seed(self.seed))
        start = None
        if seeds is not None and self.random_start:
            shape = (frames.shape[1], *videos.shape[2:])
            start = torch.stack([uniform_start(shape, seed) for seed in seeds]).to(videos)
        return self.optimise(videos, labels, frames, self.steps, early_stop=False, start=start).adversarial

    def optimise(self, videos, labels, frames, steps, early_stop=True, start: torch.Tensor | None = None) -> Optimised:
        """The PGD loop on frames (B, k); ``start`` (B, k, C, H, W) in [-1, 1], in units of eps, overrides the random start."""
        early_stop = early_stop and self.early_stop
        b = frames.shape[0]
        clean = gather_frames(videos, frames).detach()  # (B, k, C, H, W)
        if start is None and self.random_start:
            start = uniform_start(clean.shape, self.seed).to(clean)
        current = clean.clone() if start is None else (clean + self.eps * start).clamp(0.0, 1.0)

        best = clean.clone()
        iterations = torch.full((b,), steps, dtype=torch.long, device=videos.device)
        fooled = torch.zeros(b, dtype=torch.bool, device=videos.device)
        loss = torch.zeros(b, device=videos.device)
        rows = torch.arange(b, device=videos.device)
        for step in range(steps + 1):
            x = current[rows].requires_grad_(True)
            logits = self.model(scatter_frames(videos[rows], frames[rows], x))
            objective = self.adversarial_loss(logits, labels[rows])
            now = self.is_fooled(logits, labels[rows]).detach()
            last = step == steps
            keep = (now | last) if early_stop else torch.full_like(now, last)
            best[rows[keep]] = x[keep].detach()
            loss[rows] = objective.detach()
            if early_stop:
                iterations[rows[now]] = step
                fooled[rows[now]] = True
            elif last:
                fooled = now
            if last:
                break
            (grad,) = torch.autograd.grad(objective.sum(), x)
            with torch.no_grad():
                stepped = x - self.alpha * grad.sign()
                stepped = torch.min(torch.max(stepped, clean[rows] - self.eps), clean[rows] + self.eps).clamp(0.0, 1.0)
                current[rows] = stepped
            if early_stop:
                rows = rows[~now]
                if len(rows) == 0:
                    break
        return Optimised(scatter_frames(videos, frames, best), iterations, fooled, loss)


class FGSM(PGD):
    """Fast gradient sign method: one step of size ``eps`` from the clean video (PGD with K = 1, no random start)."""

    name = "fgsm"

    def __init__(self, model, eps: float = 8 / 255, frames: int | None = None, selector="first",
                 targeted: bool = False, seed: int = 0, selector_options: dict | None = None):
        super().__init__(model, eps=eps, alpha=eps, steps=1, random_start=False, frames=frames, selector=selector,
                         targeted=targeted, seed=seed, selector_options=selector_options)

    def params(self) -> dict:
        params = super().params()
        for key in ("alpha", "random_start", "early_stop", "steps"):
            params.pop(key)
        return params
