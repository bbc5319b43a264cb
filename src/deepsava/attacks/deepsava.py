"""DeepSAVA (paper Algorithm 2): Adam on additive noise N and flow U of the selected frames.

Per video the objective minimised is

    lambda * sum over perturbed frames (1 - SSIM(x^_t, x_t))  -  CE(J(X^), y)

(the paper's Eq. 3; frames outside the mask contribute 0 to the SSIM sum).
Each video stops the moment the model misclassifies it; that step count is its
ANI. N and U start at zero, so step 0 evaluates the clean video. With an SSIM or
l2,1 budget the perturbation is scaled back onto the budget before every
evaluation, so every video the model sees, and the one returned, is within it.
"""

import torch

from deepsava.attacks.base import Optimised, VideoAttack, check_budgets, check_finite, step_limit
from deepsava.errors import InvalidArgumentError
from deepsava.perturb import MODES, flow_smoothness, frame_rms, gather_frames, ssim
from deepsava.perturb.ssim import reference_moments
from deepsava.perturb.combined import perturb_frames

# The paper's lambda per model family (Section 4.1): 1.5 for CNN+LSTM, 1.0 for I3D and Inception-v3.
PAPER_LAMBDA = {"cnn-lstm": 1.5, "cnn-rnn": 1.5, "cnn-gru": 1.5, "i3d": 1.0, "inception-v3": 1.0}


FLOW_PENALTIES = ("l1", "tv")


def flow_regulariser(flow: torch.Tensor, penalty: str) -> torch.Tensor:
    """Per-frame regulariser of flows (B, n, 2, H, W) -> (B, n): mean |U| ("l1") or mean total variation ("tv")."""
    if penalty == "l1":
        return flow.abs().flatten(2).mean(dim=2)
    b, n, _, h, w = flow.shape
    return flow_smoothness(flow.flatten(0, 1)).view(b, n) / (h * w)


def clean_moments(clean: torch.Tensor) -> torch.Tensor:
    """SSIM's moments of clean frames (B, k, C, H, W) -> (B, k, 2C, H-10, W-10), computed once per attack."""
    return reference_moments(clean.flatten(0, 1)).unflatten(0, clean.shape[:2])


def _frames_ssim(perturbed: torch.Tensor, clean: torch.Tensor, moments: torch.Tensor | None = None) -> torch.Tensor:
    """SSIM of each perturbed frame: (B, k, C, H, W) x2 -> (B, k); ``moments``: :func:`clean_moments` of clean."""
    return ssim(perturbed.flatten(0, 1), clean.flatten(0, 1),
                moments=None if moments is None else moments.flatten(0, 1)).view(perturbed.shape[:2])


def project_to_budget(perturbed: torch.Tensor, clean: torch.Tensor, ssim_budget: float | None,
                      l21_budget: float | None, bisection_steps: int = 12,
                      moments: torch.Tensor | None = None) -> torch.Tensor:
    """Scale the change of frames (B, k, C, H, W) back onto the budgets -> (B, k, C, H, W).

    l2,1: the whole change of a video is scaled by min(1, budget / l2,1). SSIM: each
    frame's change is scaled by the largest factor in [0, 1] (bisection, kept on the
    feasible side) whose SSIM is at least the budget. Scaling towards the clean frame
    keeps pixels in [0, 1]. The scale factors carry no gradient. ``moments``: :func:`clean_moments` of clean.
    """
    delta = perturbed - clean
    if l21_budget is not None:
        total = frame_rms(delta.detach()).sum(dim=1)
        scale = (l21_budget * (1 - 1e-5) / total.clamp_min(1e-12)).clamp(max=1.0)
        delta = delta * scale.view(-1, 1, 1, 1, 1)
    if ssim_budget is not None:
        with torch.no_grad():
            d = delta.detach()
            lo = torch.zeros(d.shape[:2], device=d.device, dtype=d.dtype)
            hi = torch.ones_like(lo)
            if moments is None:
                moments = clean_moments(clean)
            ok = _frames_ssim(clean + d, clean, moments) >= ssim_budget
            lo[ok] = 1.0
            for _ in range(bisection_steps if not ok.all() else 0):
                mid = (lo + hi) / 2
                feasible = _frames_ssim(clean + d * mid[..., None, None, None], clean, moments) >= ssim_budget
                lo = torch.where(feasible | ok, torch.where(ok, lo, mid), lo)
                hi = torch.where(feasible | ok, hi, mid)
        delta = delta * lo[..., None, None, None]
    return clean + delta


class DeepSAVA(VideoAttack):
    """Sparse combined (additive + spatial) video attack under SSIM, key frames by a selector.

    Args:
        model: video classifier taking (B, T, C, H, W) in [0, 1].
        frames: number k of frames perturbed.
        selector: "bo" (default), "first", "middle", "random", "brute", "saliency", "anneal", "genetic", "gumbel",
            or a selector object.
        mode: "combined" (D+S), "additive" (D) or "spatial" (S).
        lam: weight of the SSIM term; default the paper's value for the model family (else 1.0).
        steps: iteration limit; default 100, or 500 with a budget (paper Section 4.2.1).
        lr: Adam learning rate for noise and flow; ``noise_lr`` / ``flow_lr`` override each.
        ssim_budget: lowest SSIM allowed for a perturbed frame, in (0, 1].
        l21_budget: largest l2,1 norm allowed for a video's perturbation, > 0.
        criterion: what the attack aims at (:mod:`deepsava.attacks.criteria`); default misclassification.
        early_stop: stop each video at its first success (default); False runs every video for all ``steps``.
        flow_weight: weight of a regulariser on the flow U added to the loss, per perturbed frame; 0 (default) none,
            as the paper's Eq. 3.
        flow_penalty: the regulariser: "l1", the mean |U| over pixels (the authors' code), or "tv", stAdv's total
            variation sqrt(|dU right|^2 + |dU below|^2) averaged over pixels (a smooth flow).
    """

    name = "deepsava"

    def __init__(self, model, frames: int = 1, selector="bo", mode: str = "combined", lam: float | None = None,
                 steps: int | None = None, lr: float = 0.01, noise_lr: float | None = None, flow_lr: float | None = None,
                 ssim_budget: float | None = None, l21_budget: float | None = None, targeted: bool = False,
                 seed: int = 0, selector_options: dict | None = None, criterion=None, early_stop: bool = True,
                 flow_weight: float = 0.0, flow_penalty: str = "l1"):
        check_finite(lam=lam, lr=lr, noise_lr=noise_lr, flow_lr=flow_lr, flow_weight=flow_weight)
        budgeted = check_budgets(ssim_budget, l21_budget)
        if mode not in MODES:
            raise InvalidArgumentError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if flow_penalty not in FLOW_PENALTIES:
            raise InvalidArgumentError(f"unknown flow_penalty {flow_penalty!r}: use one of {', '.join(FLOW_PENALTIES)}")
        for label, value in (("lr", lr), ("noise_lr", noise_lr), ("flow_lr", flow_lr), ("lam", lam),
                             ("flow_weight", flow_weight)):
            if value is not None and not value >= 0.0:
                raise InvalidArgumentError(f"{label} must be non-negative, got {value}")
        super().__init__(model, frames, selector, step_limit(steps, budgeted), targeted, seed,
                         selector_options, criterion, early_stop)
        self.mode = mode
        self.lam = lam if lam is not None else PAPER_LAMBDA.get(getattr(model, "name", ""), 1.0)
        self.noise_lr = lr if noise_lr is None else noise_lr
        self.flow_lr = lr if flow_lr is None else flow_lr
        self.ssim_budget = ssim_budget
        self.l21_budget = l21_budget
        self.flow_weight = flow_weight
        self.flow_penalty = flow_penalty

    def params(self) -> dict:
        params = {**super().params(), "mode": self.mode, "lam": self.lam, "noise_lr": self.noise_lr,
                  "flow_lr": self.flow_lr, "ssim_budget": self.ssim_budget, "l21_budget": self.l21_budget}
        if self.flow_weight:  # absent when off, so that the cell keys of earlier runs stay the same
            params.update(flow_weight=self.flow_weight, flow_penalty=self.flow_penalty)
        return params

    def perturbed_frames(self, clean: torch.Tensor, noise: torch.Tensor | None, flow: torch.Tensor | None,
                         moments: torch.Tensor | None = None) -> torch.Tensor:
        """Frames (B, k, C, H, W) warped by U (B, k, 2, H, W), noised by N (B, k, C, H, W), clipped, on the budgets.

        ``noise`` or ``flow`` is None where the mode has none; ``moments``: :func:`clean_moments` of clean.
        """
        out = perturb_frames(clean, noise, flow)
        if self.ssim_budget is None and self.l21_budget is None:
            return out
        return project_to_budget(out, clean, self.ssim_budget, self.l21_budget, moments=moments)

    def frame_cost(self, perturbed: torch.Tensor, clean: torch.Tensor, flow: torch.Tensor | None = None,
                   moments: torch.Tensor | None = None) -> torch.Tensor:
        """Per-frame cost (B, k): lam * (1 - SSIM(perturbed, clean)) + flow_weight * the regulariser of U (if any)."""
        per_frame = self.lam * (1 - _frames_ssim(perturbed, clean, moments))
        if flow is not None and self.flow_weight:
            per_frame = per_frame + self.flow_weight * flow_regulariser(flow, self.flow_penalty)
        return per_frame

    def objective(self, perturbed: torch.Tensor, clean: torch.Tensor, output: torch.Tensor, labels: torch.Tensor,
                  flow: torch.Tensor | None = None) -> torch.Tensor:
        """The loss minimised (B,): the frames' costs summed (Eq. 3's SSIM term) + the adversarial loss."""
        return self.frame_cost(perturbed, clean, flow).sum(dim=1) + self.adversarial_loss(output, labels)

    def frame_perturbation(self, clean: torch.Tensor):
        """Trainable N and U, from zero, for frames clean (B, n, C, H, W) -> (Adam groups, flow, perturb, cost).

        ``perturb(rows)``: the perturbed frames (r, n, C, H, W) of videos ``rows``, on the budget;
        ``cost(rows, perturbed, weights=None)``: the sum over frames of weights * :meth:`frame_cost` (r,),
        unweighted by default; ``flow`` (B, n, 2, H, W) or None. The generator uses it on the selected
        frames (n = k), the ``gumbel`` selector on all T frames.
        """
        b, n = clean.shape[:2]
        groups = []
        noise = flow = None
        if self.mode in ("additive", "combined"):
            noise = torch.zeros_like(clean, requires_grad=True)
            groups.append({"params": [noise], "lr": self.noise_lr})
        if self.mode in ("spatial", "combined"):
            flow = torch.zeros(b, n, 2, *clean.shape[-2:], device=clean.device, dtype=clean.dtype, requires_grad=True)
            groups.append({"params": [flow], "lr": self.flow_lr})
        moments = clean_moments(clean)  # (B, n, 2C, H-10, W-10): the clean frames are filtered once, not every step

        def perturb(rows):
            return self.perturbed_frames(clean[rows], None if noise is None else noise[rows],
                                         None if flow is None else flow[rows], moments[rows])

        def cost(rows, perturbed, weights=None):
            per_frame = self.frame_cost(perturbed, clean[rows], None if flow is None else flow[rows], moments[rows])
            return (per_frame if weights is None else weights * per_frame).sum(dim=1)

        return groups, flow, perturb, cost

    def optimise(self, videos, labels, frames, steps, early_stop=True) -> Optimised:
        groups, flow, perturb, cost = self.frame_perturbation(gather_frames(videos, frames))

        def objective(rows, perturbed, logits):
            return cost(rows, perturbed) + self.adversarial_loss(logits, labels[rows])

        return self.generate(videos, labels, frames, steps, early_stop, torch.optim.Adam(groups), perturb, objective,
                             flow=flow)
