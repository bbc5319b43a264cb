"""Key frames learnt jointly with the perturbation: a Gumbel-relaxed k-of-T mask (the paper's future work).

Per video, mask logits alpha (B, T) start at zero. Each of ``steps`` Adam steps draws Gumbel noise
g (B, T) and forms the relaxed k-hot mask

    m_t = sigmoid((alpha_t + g_t - theta) / tau),   theta such that sum_t m_t = k

(a threshold relaxation of top-k, :func:`soft_top_k`: m lies in [0, 1] and sums to k, and as tau -> 0
it becomes the k-hot indicator of the top k of alpha + g, a sample of k frames without replacement
from softmax(alpha): the Gumbel top-k trick). tau decays geometrically from ``tau0`` to ``tau_end``.
The attack's perturbation (DeepSAVA's N and U, through ``attack.frame_perturbation``) lives on all T
frames; the model sees X + m * (X^ - X), and the loss is the attack's objective with each frame's
SSIM term weighted by its mask value: adversarial loss + lam * sum_t m_t (1 - SSIM(x^_t, x_t)). Adam
updates N and U (the attack's learning rates) and alpha (``logit_lr``). With an l2,1 budget the budget
bounds the change of all T frames together. The k frames with the largest alpha are returned;
``chosen_loss`` is their probe loss (``probe_steps`` generator steps from zero, as BO's probes), so it
compares with the other search selectors'.
"""

import math

import torch

from deepsava.errors import InvalidArgumentError
from deepsava.select.probe import probe_candidates


def soft_top_k(scores: torch.Tensor, k: int, tau: float, iterations: int = 40) -> torch.Tensor:
    """Relaxed k-hot mask (B, T) of scores (B, T): sigmoid((scores - theta) / tau), theta per row so that it sums to k.

    theta is found by bisection (no gradient) and carries the implicit-function gradient
    d theta / d score_t = sigma'_t / sum_u sigma'_u, so the gradient keeps the sum at k.
    """
    with torch.no_grad():
        lo = scores.min(dim=1).values - 30 * tau  # every sigmoid ~1: the sum exceeds k (k < T)
        hi = scores.max(dim=1).values + 30 * tau  # every sigmoid ~0: the sum is below k
        for _ in range(iterations):
            mid = (lo + hi) / 2
            above = torch.sigmoid((scores - mid.unsqueeze(1)) / tau).sum(dim=1) > k
            lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
        theta = (lo + hi) / 2
    mask = torch.sigmoid((scores - theta.unsqueeze(1)) / tau)
    total = mask.sum(dim=1)
    slope = (mask * (1 - mask)).sum(dim=1).detach().clamp_min(torch.finfo(scores.dtype).tiny)
    theta = theta + (total - total.detach()) / slope  # same value; the gradient of theta(scores)
    return torch.sigmoid((scores - theta.unsqueeze(1)) / tau)


class GumbelFrames:
    """Gumbel soft top-k mask logits optimised with the attack's perturbation on all frames; top-k logits returned."""

    name = "gumbel"

    def __init__(self, steps: int = 20, tau0: float = 2.0, tau_end: float = 0.2, logit_lr: float = 0.1,
                 probe_steps: int = 5, max_rows: int = 32):
        for label, value in (("steps", steps), ("probe_steps", probe_steps), ("max_rows", max_rows)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"gumbel: {label} must be a positive integer, got {value!r}")
        for label, value in (("tau0", tau0), ("tau_end", tau_end), ("logit_lr", logit_lr)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise InvalidArgumentError(f"gumbel: {label} must be a positive number, got {value!r}")
        self.steps = steps
        self.tau0, self.tau_end = float(tau0), float(tau_end)
        self.logit_lr = float(logit_lr)
        self.probe_steps = probe_steps
        self.max_rows = max_rows

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        if not callable(getattr(attack, "frame_perturbation", None)):
            raise InvalidArgumentError(f"selector gumbel needs an attack with a per-frame perturbation"
                                       f" (frame_perturbation), such as deepsava; {attack.name} has none")
        b, t = videos.shape[:2]
        rows = torch.arange(b, device=videos.device)
        groups, _, perturb, cost = attack.frame_perturbation(videos)  # N, U on all T frames
        alpha = torch.zeros(b, t, device=videos.device, dtype=videos.dtype, requires_grad=True)
        optimizer = torch.optim.Adam([*groups, {"params": [alpha], "lr": self.logit_lr}])
        for step in range(self.steps):
            tau = self.tau0 * (self.tau_end / self.tau0) ** (step / max(self.steps - 1, 1))
            uniform = torch.rand(b, t, generator=generator, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
            gumbel = -torch.log(-torch.log(uniform)).to(videos.device, videos.dtype)
            mask = soft_top_k(alpha + gumbel, k, tau)  # (B, T)
            perturbed = perturb(rows)  # (B, T, C, H, W)
            mixed = videos + mask.view(b, t, 1, 1, 1) * (perturbed - videos)
            loss = attack.adversarial_loss(attack.model(mixed), labels) + cost(rows, perturbed, mask)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
        attack.selection_steps += self.steps * b
        chosen = alpha.detach().topk(k, dim=1).indices.sort(dim=1).values  # (B, k)
        losses = probe_candidates(attack, videos, labels, chosen.unsqueeze(1), self.probe_steps, self.max_rows)
        self.chosen_loss = losses.squeeze(1)  # (B,) probe loss of the chosen masks
        return chosen
