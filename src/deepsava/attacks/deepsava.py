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

from deepsava.attacks.base import Optimised, VideoAttack, check_finite
from deepsava.errors import InvalidArgumentError
from deepsava.perturb import MODES, frame_rms, gather_frames, ssim
from deepsava.perturb.combined import perturb_frames

# The paper's lambda per model family (Section 4.1): 1.5 for CNN+LSTM, 1.0 for I3D and Inception-v3.
PAPER_LAMBDA = {"cnn-lstm": 1.5, "cnn-rnn": 1.5, "cnn-gru": 1.5, "i3d": 1.0, "inception-v3": 1.0}


def _frames_ssim(perturbed: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """SSIM of each perturbed frame: (B, k, C, H, W) x2 -> (B, k)."""
    return ssim(perturbed.flatten(0, 1), clean.flatten(0, 1)).view(perturbed.shape[:2])


def project_to_budget(perturbed: torch.Tensor, clean: torch.Tensor, ssim_budget: float | None,
                      l21_budget: float | None, bisection_steps: int = 12) -> torch.Tensor:
    """Scale the change of frames (B, k, C, H, W) back onto the budgets -> (B, k, C, H, W).

    l2,1: the whole change of a video is scaled by min(1, budget / l2,1). SSIM: each
    frame's change is scaled by the largest factor in [0, 1] (bisection, kept on the
    feasible side) whose SSIM is at least the budget. Scaling towards the clean frame
    keeps pixels in [0, 1]. The scale factors carry no gradient.
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
            ok = _frames_ssim(clean + d, clean) >= ssim_budget
            lo[ok] = 1.0
            for _ in range(bisection_steps if not ok.all() else 0):
                mid = (lo + hi) / 2
                feasible = _frames_ssim(clean + d * mid[..., None, None, None], clean) >= ssim_budget
                lo = torch.where(feasible | ok, torch.where(ok, lo, mid), lo)
                hi = torch.where(feasible | ok, hi, mid)
        delta = delta * lo[..., None, None, None]
    return clean + delta


class DeepSAVA(VideoAttack):
    """Sparse combined (additive + spatial) video attack under SSIM, key frames by a selector.

    Args:
        model: video classifier taking (B, T, C, H, W) in [0, 1].
        frames: number k of frames perturbed.
        selector: "bo" (default), "first", "random", "brute", "saliency", "anneal", "genetic", or a selector object.
        mode: "combined" (D+S), "additive" (D) or "spatial" (S).
        lam: weight of the SSIM term; default the paper's value for the model family (else 1.0).
        steps: iteration limit; default 100, or 500 with a budget (paper Section 4.2.1).
        lr: Adam learning rate for noise and flow; ``noise_lr`` / ``flow_lr`` override each.
        ssim_budget: lowest SSIM allowed for a perturbed frame, in (0, 1].
        l21_budget: largest l2,1 norm allowed for a video's perturbation, > 0.
        criterion: what the attack aims at (:mod:`deepsava.attacks.criteria`); default misclassification.
        early_stop: stop each video at its first success (default); False runs every video for all ``steps``.
    """

    name = "deepsava"

    def __init__(self, model, frames: int = 1, selector="bo", mode: str = "combined", lam: float | None = None,
                 steps: int | None = None, lr: float = 0.01, noise_lr: float | None = None, flow_lr: float | None = None,
                 ssim_budget: float | None = None, l21_budget: float | None = None, targeted: bool = False,
                 seed: int = 0, selector_options: dict | None = None, criterion=None, early_stop: bool = True):
        check_finite(lam=lam, lr=lr, noise_lr=noise_lr, flow_lr=flow_lr, ssim_budget=ssim_budget, l21_budget=l21_budget)
        if mode not in MODES:
            raise InvalidArgumentError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if ssim_budget is not None and not 0.0 < ssim_budget <= 1.0:
            raise InvalidArgumentError(f"ssim_budget must lie in (0, 1], got {ssim_budget}")
        if l21_budget is not None and not l21_budget > 0.0:
            raise InvalidArgumentError(f"l21_budget must be positive, got {l21_budget}")
        for label, value in (("lr", lr), ("noise_lr", noise_lr), ("flow_lr", flow_lr), ("lam", lam)):
            if value is not None and not value >= 0.0:
                raise InvalidArgumentError(f"{label} must be non-negative, got {value}")
        budgeted = ssim_budget is not None or l21_budget is not None
        super().__init__(model, frames, selector, (500 if budgeted else 100) if steps is None else steps, targeted, seed,
                         selector_options, criterion, early_stop)
        self.mode = mode
        self.lam = lam if lam is not None else PAPER_LAMBDA.get(getattr(model, "name", ""), 1.0)
        self.noise_lr = lr if noise_lr is None else noise_lr
        self.flow_lr = lr if flow_lr is None else flow_lr
        self.ssim_budget = ssim_budget
        self.l21_budget = l21_budget

    def params(self) -> dict:
        return {**super().params(), "mode": self.mode, "lam": self.lam, "noise_lr": self.noise_lr,
                "flow_lr": self.flow_lr, "ssim_budget": self.ssim_budget, "l21_budget": self.l21_budget}

    def perturbed_frames(self, clean: torch.Tensor, noise: torch.Tensor | None,
                         flow: torch.Tensor | None) -> torch.Tensor:
        """Frames (B, k, C, H, W) warped by U (B, k, 2, H, W), noised by N (B, k, C, H, W), clipped, on the budgets.

        ``noise`` or ``flow`` is None where the mode has none.
        """
        out = perturb_frames(clean, noise, flow)
        if self.ssim_budget is None and self.l21_budget is None:
            return out
        return project_to_budget(out, clean, self.ssim_budget, self.l21_budget)

    def objective(self, perturbed: torch.Tensor, clean: torch.Tensor, output: torch.Tensor,
                  labels: torch.Tensor) -> torch.Tensor:
        """The loss minimised (B,): lambda * sum over the k frames of (1 - SSIM(perturbed, clean)) + the adversarial loss."""
        return self.lam * (1 - _frames_ssim(perturbed, clean)).sum(dim=1) + self.adversarial_loss(output, labels)

    def optimise(self, videos, labels, frames, steps, early_stop=True) -> Optimised:
        b, k = frames.shape
        clean = gather_frames(videos, frames)  # (B, k, C, H, W)
        groups = []
        noise = flow = None
        if self.mode in ("additive", "combined"):
            noise = torch.zeros_like(clean, requires_grad=True)
            groups.append({"params": [noise], "lr": self.noise_lr})
        if self.mode in ("spatial", "combined"):
            flow = torch.zeros(b, k, 2, *clean.shape[-2:], device=clean.device, dtype=clean.dtype, requires_grad=True)
            groups.append({"params": [flow], "lr": self.flow_lr})
        optimizer = torch.optim.Adam(groups)

        def perturb(rows):
            return self.perturbed_frames(clean[rows], None if noise is None else noise[rows],
                                         None if flow is None else flow[rows])

        def objective(rows, perturbed, logits):
            return self.objective(perturbed, clean[rows], logits, labels[rows])

        return self.generate(videos, labels, frames, steps, early_stop, optimizer, perturb, objective, flow=flow)
