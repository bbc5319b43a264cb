"""PGD adversarial training with the combined perturbation (paper Algorithm 4).

For every training batch the adversarial video is the paper's Eq. 2 on the
masked frames, X^ = clip(S(U, X, M) + N·M) (warp by the flow U, add the noise N,
clip to [0, 1]; :func:`deepsava.perturb.combined.perturb_frames`), and K signed-
gradient steps of the cross-entropy move both N and U; the model then trains on
the result. Where Algorithm 4 is loose we chose, and docs/RESULTS.md measures:

- What the signed step moves: the perturbation's parameters N and U, each by
  its own step (``alpha`` for N, ``flow_alpha`` pixels for U), so that the flow is
  optimised like the attack's (DeepSAVA optimises U by gradient). Line 6 of
  Algorithm 4 steps the pixels of X^; for the additive part that is the same
  step, since dX^/dN is the identity inside [0, 1]. Line 5 re-applies S(U, ., M)
  to the previous X^ at every step, which would compound the warp K times; we
  warp the clean frames once per step instead. ``flow_alpha=0`` keeps U at its
  random start (the authors' code draws N and U once at random and never
  optimises them).
- Projection: N onto the l-infinity ball of radius ``eps`` and U onto
  [-``flow_eps``, ``flow_eps``] pixels per component after every step; the frame is
  clipped to [0, 1] by Eq. 2 itself. The authors' code has no projection.
- Random start: N uniform in the eps-ball and U uniform in the flow box, drawn
  afresh for every video in every batch of every epoch from the video's seed (a
  deliberate deviation: Algorithm 4's line 1 draws U and N once, before all
  epochs; a fresh random start per example is Madry et al.'s PGD, which
  Algorithm 4 builds on, and it keeps a video's example independent of its batch).
- Masked frames: every frame by default (``frames=None``), or k frames per
  video (the first k, or k at random), as for :class:`~deepsava.defend.pgd.PGDDefence`.
"""

import torch
import torch.nn.functional as F

from deepsava.attacks.pgd import uniform_start
from deepsava.defend.base import Defence, check_ball, check_frames, training_frames
from deepsava.errors import InvalidArgumentError
from deepsava.perturb import gather_frames, scatter_frames
from deepsava.perturb.combined import perturb_frames
from deepsava.runtime import derived_seed


class CombinedDefence(Defence):
    """Adversarial training on the combined (flow + noise) perturbation.

    Args:
        eps: l-infinity radius of the noise N on the [0, 1] scale (default 8/255).
        alpha: signed step of N (default 1/255, the paper's).
        steps: inner steps K per batch (default 10).
        flow_eps: largest displacement of the flow U per component, in pixels (default 1.0).
        flow_alpha: signed step of U in pixels (default 0.1; 0 keeps U at its random start).
        frames: None (every frame, default) or k perturbed frames per video.
        mask: which k frames: "first" (default) or "random".
    """

    name = "combined"

    def __init__(self, eps: float = 8 / 255, alpha: float = 1 / 255, steps: int = 10, flow_eps: float = 1.0,
                 flow_alpha: float = 0.1, frames: int | None = None, mask: str = "first"):
        check_ball(eps, alpha, steps)
        check_frames(frames, mask)
        if not flow_eps >= 0.0 or not flow_alpha >= 0.0:
            raise InvalidArgumentError(f"flow_eps and flow_alpha must be non-negative, got {flow_eps}, {flow_alpha}")
        self.eps, self.alpha, self.steps = eps, alpha, steps
        self.flow_eps, self.flow_alpha = flow_eps, flow_alpha
        self.frames, self.mask = frames, mask

    def params(self) -> dict:
        return {"method": self.name, "eps": self.eps, "alpha": self.alpha, "steps": self.steps,
                "flow_eps": self.flow_eps, "flow_alpha": self.flow_alpha, "frames": self.frames, "mask": self.mask}

    def adversarial(self, model, videos: torch.Tensor, labels: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        frames = training_frames(videos, self.frames, self.mask, seeds)
        clean = gather_frames(videos, frames).detach()  # (B, k, C, H, W)
        k, c, h, w = clean.shape[1:]
        noise = self.eps * torch.stack([uniform_start((k, c, h, w), s) for s in seeds]).to(clean)
        flow = self.flow_eps * torch.stack([uniform_start((k, 2, h, w), derived_seed(s, "flow")) for s in seeds]).to(clean)
        moves_flow = self.flow_eps > 0 and self.flow_alpha > 0
        for _ in range(self.steps):
            noise.requires_grad_(True)
            flow.requires_grad_(moves_flow)
            logits = model(scatter_frames(videos, frames, perturb_frames(clean, noise, flow)))
            loss = F.cross_entropy(logits, labels, reduction="sum")
            grads = torch.autograd.grad(loss, [noise, flow] if moves_flow else [noise])
            with torch.no_grad():
                noise = (noise + self.alpha * grads[0].sign()).clamp(-self.eps, self.eps)
                if moves_flow:
                    flow = (flow + self.flow_alpha * grads[1].sign()).clamp(-self.flow_eps, self.flow_eps)
        with torch.no_grad():
            return scatter_frames(videos, frames, perturb_frames(clean, noise, flow))
