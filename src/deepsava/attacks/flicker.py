"""Flickering (Pony et al. 2021) and the paper's Sparse Flickering.

The perturbation is one RGB offset per frame, added uniformly to every pixel of
that frame: offsets ``(B, k, C, 1, 1)`` broadcast over ``(H, W)``. Per video the
objective minimised is

    max(0, Z_y - max_{j != y} Z_j + kappa)  +  beta1 * thickness  +  beta2 * roughness

on the logits Z (targeted: ``max(0, max_{j != t} Z_j - Z_t + kappa)``), with, over
the offset sequence of the whole video (T frames, zero on frames not attacked):

- thickness = mean over frames and channels of offset^2,
- roughness = mean of the first temporal difference squared plus mean of the
  second temporal difference squared, both circular (frame T-1 neighbours frame 0),
  as in Pony et al.'s code and ART's ``OverTheAirFlickeringPyTorch``.

Offsets start at zero, so step 0 evaluates the clean video, and after every Adam
step are clipped to +-``max_offset`` = 0.2, Pony et al.'s +-0.4 on [-1, 1] inputs
expressed on our [0, 1] scale; frames are then clipped to [0, 1]. Adam with the
paper's learning rate 0.01 for all methods (Pony et al. use 0.001), beta1 = beta2
= 0.1, kappa = 0.05 on the logits, 100 steps, early stop per video as DeepSAVA.
With an ``ssim_budget`` or ``l21_budget`` the flickered frames are scaled back onto
the budget before every evaluation, as DeepSAVA's and Sparse's are
(:func:`deepsava.attacks.deepsava.project_to_budget`), and the step limit becomes
500 (paper Section 4.2.1): the FR-against-budget curves compare all three at equal
perturbation.

How ART's ``OverTheAirFlickeringPyTorch`` (1.20) differs, with m = p_y - max_{j != y} p_j
+ margin on softmax probabilities p (targeted: the sign of the difference flipped):

- its adversarial loss is a smoothed hinge on probabilities, quadratic then linear:
  max(0, min(m^2 / margin, m)) (margin 0.05); ours is the plain linear hinge
  max(0, Z_y - max_{j != y} Z_j + kappa) on the logits Z (a Carlini-Wagner-style margin);
- its regulariser is beta_0 * (beta_1 * thickness + beta_2 * first + beta_2 * second)
  with the same thickness and circular differences as ours (ours: beta_0 = 1, and
  separate weights beta1 for thickness, beta2 for both differences), each term + 1e-12;
  its defaults are beta_1 = beta_2 = 0.5, ours 0.1;
- its optimiser takes signed steps of ``eps_step`` (0.01) for ``max_iter`` (30)
  iterations, one video at a time, with no early stop and no bound on the offsets
  other than clipping pixels to [0, 1]; ours is Adam with early stop and offsets
  within +-0.2.

``benchmarks/flicker_vs_art.py`` runs both on the shipped tiny models at an equal
step budget and at their own defaults (FR and seconds per attacked video: docs/RESULTS.md,
"Flickering: ours against ART"); ``tests/test_baselines.py`` checks on a toy model that
both produce the same perturbation family and comparable fooling rates.

:class:`Flicker` flickers every frame (the original, dense attack);
:class:`SparseFlicker` restricts the offsets to ``frames`` frames chosen by a
selector (default the first ones), the paper's Sparse Flickering baseline.
"""

import torch

from deepsava.attacks.base import Optimised, VideoAttack, check_budgets, check_finite, step_limit
from deepsava.attacks.deepsava import project_to_budget
from deepsava.errors import InvalidArgumentError
from deepsava.perturb import gather_frames


def margin_loss(logits: torch.Tensor, labels: torch.Tensor, kappa: float, targeted: bool = False) -> torch.Tensor:
    """Hinge on the logit margin (B,): zero once the label trails (untargeted) by kappa."""
    true = logits.gather(1, labels.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, labels.view(-1, 1), float("-inf")).amax(dim=1)
    gap = others - true if targeted else true - others
    return (gap + kappa).clamp_min(0.0)


def thickness(offsets: torch.Tensor) -> torch.Tensor:
    """Mean square of per-frame offsets (B, T, C) -> (B,)."""
    return offsets.pow(2).mean(dim=(1, 2))


def roughness(offsets: torch.Tensor) -> torch.Tensor:
    """Mean square of the circular first and second temporal differences of offsets (B, T, C) -> (B,)."""
    previous = offsets.roll(1, dims=1)
    following = offsets.roll(-1, dims=1)
    first = (offsets - previous).pow(2).mean(dim=(1, 2))
    second = (previous - 2 * offsets + following).pow(2).mean(dim=(1, 2))
    return first + second


class Flicker(VideoAttack):
    """Flickering attack: one uniform RGB offset per frame, on every frame (``frames=None``) or on ``frames`` frames.

    Args:
        model: video classifier taking (B, T, C, H, W) in [0, 1].
        frames: None (default) flickers every frame; an integer k restricts it to k frames.
        selector: frame selector when ``frames`` is given (default "first").
        steps: iteration limit; default 100, or 500 with a budget.
        lr: Adam learning rate (default 0.01).
        beta_thickness, beta_roughness: weights of the two regularisers (default 0.1 each).
        kappa: margin of the logit hinge (default 0.05).
        max_offset: largest absolute offset per frame and channel (default 0.2 on [0, 1]).
        ssim_budget: lowest SSIM allowed for a flickered frame, in (0, 1].
        l21_budget: largest l2,1 norm allowed for a video's perturbation, > 0.
    """

    name = "flicker"

    def __init__(self, model, frames: int | None = None, selector="first", steps: int | None = None, lr: float = 0.01,
                 beta_thickness: float = 0.1, beta_roughness: float = 0.1, kappa: float = 0.05,
                 max_offset: float = 0.2, ssim_budget: float | None = None, l21_budget: float | None = None,
                 targeted: bool = False, seed: int = 0, selector_options: dict | None = None):
        check_finite(lr=lr, beta_thickness=beta_thickness, beta_roughness=beta_roughness, kappa=kappa,
                     max_offset=max_offset)
        budgeted = check_budgets(ssim_budget, l21_budget)
        for label, value in (("beta_thickness", beta_thickness), ("beta_roughness", beta_roughness), ("kappa", kappa)):
            if not value >= 0.0:
                raise InvalidArgumentError(f"{label} must be non-negative, got {value}")
        if not lr > 0.0:
            raise InvalidArgumentError(f"lr must be positive, got {lr}")
        if not 0.0 < max_offset <= 1.0:
            raise InvalidArgumentError(f"max_offset must lie in (0, 1], got {max_offset}")
        self.dense = frames is None
        super().__init__(model, 1 if self.dense else frames, "first" if self.dense else selector,
                         step_limit(steps, budgeted), targeted, seed, selector_options)
        self.lr = lr
        self.beta_thickness = beta_thickness
        self.beta_roughness = beta_roughness
        self.kappa = kappa
        self.max_offset = max_offset
        self.ssim_budget = ssim_budget
        self.l21_budget = l21_budget

    def __call__(self, videos, labels, targets=None):
        if self.dense and torch.is_tensor(videos) and videos.dim() == 5:
            self.frames = videos.shape[1]  # every frame, in order
        return super().__call__(videos, labels, targets)

    def params(self) -> dict:
        params = {**super().params(), "lr": self.lr, "beta_thickness": self.beta_thickness,
                  "beta_roughness": self.beta_roughness, "kappa": self.kappa, "max_offset": self.max_offset}
        if self.dense:
            params.update(frames="all", selector="all")
        for name in ("ssim_budget", "l21_budget"):  # absent when unset, so that the cell keys of earlier runs stay
            if getattr(self, name) is not None:
                params[name] = getattr(self, name)
        return params

    def objective(self, logits: torch.Tensor, labels: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Per-video loss (B,) from logits and the whole video's offsets (B, T, C)."""
        return (margin_loss(logits, labels, self.kappa, self.targeted)
                + self.beta_thickness * thickness(offsets) + self.beta_roughness * roughness(offsets))

    def optimise(self, videos, labels, frames, steps, early_stop=True) -> Optimised:
        b, k = frames.shape
        t, c = videos.shape[1:3]
        clean = gather_frames(videos, frames)  # (B, k, C, H, W)
        offsets = torch.zeros(b, k, c, 1, 1, device=videos.device, dtype=videos.dtype, requires_grad=True)
        optimizer = torch.optim.Adam([offsets], lr=self.lr)
        budgeted = self.ssim_budget is not None or self.l21_budget is not None

        def perturb(rows):
            out = (clean[rows] + offsets[rows]).clamp(0.0, 1.0)
            return project_to_budget(out, clean[rows], self.ssim_budget, self.l21_budget) if budgeted else out

        def objective(rows, perturbed, logits):
            index = frames[rows].unsqueeze(-1).expand(-1, -1, c)
            sequence = torch.zeros(len(rows), t, c, device=videos.device, dtype=videos.dtype)
            sequence = sequence.scatter(1, index, offsets[rows].flatten(2))  # (B, T, C), zero off the mask
            return self.objective(logits, labels[rows], sequence)

        def clip_offsets():
            with torch.no_grad():
                offsets.clamp_(-self.max_offset, self.max_offset)

        return self.generate(videos, labels, frames, steps, early_stop, optimizer, perturb, objective, clip_offsets)


class SparseFlicker(Flicker):
    """The paper's Sparse Flickering: the flickering attack on ``frames`` frames (default the first one)."""

    name = "sparse-flicker"

    def __init__(self, model, frames: int = 1, selector="first", **options):
        if frames is None:
            raise InvalidArgumentError("SparseFlicker needs a number of frames; use Flicker to flicker every frame")
        super().__init__(model, frames, selector, **options)
