"""Sparse (Wei et al. 2019): additive noise on a fixed set of frames, guided by the l2,1 norm.

Per video the objective minimised is

    -log(1 - p_y + 1e-6)  +  lam * l2,1(x^ - x),    l2,1(D) = sum_t sqrt(mean_{c,h,w} D_t^2 + eps)

(targeted: -log(p_target + 1e-6) + lam * l2,1). N lives on the selected frames
only (default: the first ``frames`` frames, as in the paper's comparison), so the
other frames stay bit-identical. Choices where the original leaves room:

- N starts at the constant 0.01/255 on every pixel of the selected frames (the
  authors' code initialises to 0.01 on the 0-255 scale); a constant start keeps
  the l2,1 gradient defined, and ``eps`` = 1e-12 inside the square root keeps it
  finite should a frame's noise reach exactly zero.
- Adam, learning rate 0.01 (the paper's setting for all methods; Wei et al.'s code
  uses 0.001 on [0, 1]); 100 steps; each video stops the moment it is fooled
  (its ANI), exactly as :class:`~deepsava.attacks.DeepSAVA` does.
- ``lam`` (Wei et al.'s w, ``weight_loss2``) defaults to 1.0, their default.
- With an ``l21_budget`` or ``ssim_budget`` the perturbed frames are scaled back
  onto the budget before every evaluation (:func:`deepsava.attacks.deepsava.project_to_budget`),
  and the step limit becomes 500 (paper Section 4.2.1).

As in Wei et al.'s code, the l2,1 of the regulariser is that of the change the
model sees, x^ - x (after clipping to [0, 1] and any budget projection), on the
[0, 1] scale; frames outside the mask contribute zero. It is also what an
:class:`AttackResult` reports as ``l21``.
"""

import torch

from deepsava.attacks.base import Optimised, VideoAttack, check_budgets, check_finite, step_limit
from deepsava.attacks.deepsava import project_to_budget
from deepsava.errors import InvalidArgumentError
from deepsava.perturb import gather_frames, l21

INITIAL_NOISE = 0.01 / 255  # the authors' 0.01 on the 0-255 scale
L21_EPS = 1e-12


def sparse_l21(change: torch.Tensor, eps: float = L21_EPS) -> torch.Tensor:
    """Wei et al.'s l2,1 of a change (B, k, C, H, W): sum over frames of sqrt(mean D_t^2 + eps) -> (B,)."""
    return l21(change, eps)


class Sparse(VideoAttack):
    """Sparse additive attack of Wei et al. (2019) on ``frames`` frames.

    Args:
        model: video classifier taking (B, T, C, H, W) in [0, 1].
        frames: number k of frames perturbed.
        selector: "first" (default, the paper's baseline setting) or any selector name/object.
        lam: weight of the l2,1 term (default 1.0).
        steps: iteration limit; default 100, or 500 with a budget.
        lr: Adam learning rate (default 0.01).
        init: constant the noise starts at (default 0.01/255).
        l21_budget: largest l2,1 norm allowed for a video's perturbation, > 0.
        ssim_budget: lowest SSIM allowed for a perturbed frame, in (0, 1].
        early_stop: stop each video at its first success (default); False runs every video for all ``steps``.
    """

    name = "sparse"

    def __init__(self, model, frames: int = 1, selector="first", lam: float = 1.0, steps: int | None = None,
                 lr: float = 0.01, init: float = INITIAL_NOISE, l21_budget: float | None = None,
                 ssim_budget: float | None = None, targeted: bool = False, seed: int = 0,
                 selector_options: dict | None = None, early_stop: bool = True):
        check_finite(lam=lam, lr=lr, init=init)
        budgeted = check_budgets(ssim_budget, l21_budget)
        if not lam >= 0.0:
            raise InvalidArgumentError(f"lam must be non-negative, got {lam}")
        if not lr > 0.0:
            raise InvalidArgumentError(f"lr must be positive, got {lr}")
        if not abs(init) < 1.0:
            raise InvalidArgumentError(f"init must lie in (-1, 1), got {init}")
        super().__init__(model, frames, selector, step_limit(steps, budgeted), targeted, seed,
                         selector_options, early_stop=early_stop)
        self.lam = lam
        self.lr = lr
        self.init = init
        self.l21_budget = l21_budget
        self.ssim_budget = ssim_budget

    def params(self) -> dict:
        return {**super().params(), "lam": self.lam, "lr": self.lr, "init": self.init,
                "l21_budget": self.l21_budget, "ssim_budget": self.ssim_budget}

    def adversarial_term(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """-log(1 - p_y + 1e-6) (untargeted) or -log(p_target + 1e-6) (targeted) -> (B,)."""
        p = logits.softmax(dim=1).gather(1, labels.view(-1, 1)).squeeze(1)
        return -torch.log(p + 1e-6) if self.targeted else -torch.log(1 - p + 1e-6)

    def objective(self, logits: torch.Tensor, labels: torch.Tensor, change: torch.Tensor) -> torch.Tensor:
        """Per-video loss minimised (B,): adversarial term + lam * l2,1 of the change x^ - x (B, k, C, H, W)."""
        return self.adversarial_term(logits, labels) + self.lam * sparse_l21(change)

    def optimise(self, videos, labels, frames, steps, early_stop=True) -> Optimised:
        clean = gather_frames(videos, frames)  # (B, k, C, H, W)
        noise = torch.full_like(clean, self.init).requires_grad_(True)
        optimizer = torch.optim.Adam([noise], lr=self.lr)
        budgeted = self.ssim_budget is not None or self.l21_budget is not None


        def perturb(rows):
            out = (clean[rows] + noise[rows]).clamp(0.0, 1.0)
            return project_to_budget(out, clean[rows], self.ssim_budget, self.l21_budget) if budgeted else out

        def objective(rows, perturbed, logits):
            return self.objective(logits, labels[rows], perturbed - clean[rows])

        return self.generate(videos, labels, frames, steps, early_stop, optimizer, perturb, objective)
