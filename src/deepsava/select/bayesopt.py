"""Key frames by Bayesian optimisation (paper Algorithm 1), alternating with the generator.

Search space: masks of k frames out of T, encoded as their sorted frame indices
scaled to [0, 1] (k numbers; neighbouring frames are close, as they look alike).
Surrogate: a BoTorch SingleTaskGP per video (one batched model for the whole
batch, Matern-5/2 kernel, standardised outcomes). Acquisition: expected
improvement (paper Eq. 4) on the GP posterior, in log space, minimising the
probe loss, maximised over an explicit list of candidate masks (as BoTorch's
``optimize_acqf_discrete`` does). Each evaluation is a short generator probe on
the candidate mask (``probe_steps`` Adam steps from zero perturbation) whose final
objective is the loss; all videos of a batch are probed together. After
``evaluations`` probes (the first ``initial`` of them random), the mask with the
lowest loss is returned and gets the full attack.
"""

import math
import warnings

import torch

with warnings.catch_warnings():  # gpytorch's import uses the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

from deepsava.errors import InvalidArgumentError
from deepsava.select.probe import candidate_masks, probe_candidates


def fit_surrogate(x: torch.Tensor, y: torch.Tensor) -> SingleTaskGP:
    """Batched GP, one per video: x (B, n, k) in [0, 1], y (B, n) losses."""
    model = SingleTaskGP(x, y.unsqueeze(-1), outcome_transform=Standardize(m=1, batch_shape=x.shape[:1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


def log_expected_improvement(model: SingleTaskGP, candidates: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    """log EI (paper Eq. 4) of every candidate (n, k) under every video's GP, minimising -> (B, n).

    EI = sigma * h(u) with u = (best - mu) / sigma and h(u) = phi(u) + u Phi(u), computed
    in log space (asymptotic form for u < -5) so that far-from-best candidates still rank.
    """
    n, k = candidates.shape
    b = best.shape[0]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpytorch rounds tiny negative variances up, and says so
        posterior = model.posterior(candidates.view(n, 1, 1, k).expand(n, b, 1, k))
        mu = posterior.mean.view(n, b).T
        sigma = posterior.variance.clamp_min(1e-12).sqrt().view(n, b).T
    u = (best.view(b, 1) - mu) / sigma
    log_phi = -0.5 * u**2 - 0.5 * math.log(2 * math.pi)
    direct = torch.log((log_phi.exp() + u * torch.special.ndtr(u)).clamp_min(1e-300))
    asymptotic = log_phi - 2 * torch.log(u.abs().clamp_min(1.0))
    return sigma.log() + torch.where(u > -5, direct, asymptotic)


class BayesOpt:
    """GP + expected improvement over k-frame masks; ``evaluations`` probes per video."""

    name = "bo"

    def __init__(self, evaluations: int = 10, initial: int = 4, probe_steps: int = 5,
                 max_candidates: int = 2048, max_rows: int = 32):
        if not 1 <= initial <= evaluations:
            raise InvalidArgumentError(f"need 1 <= initial ({initial}) <= evaluations ({evaluations})")
        self.evaluations = evaluations
        self.initial = initial
        self.probe_steps = probe_steps
        self.max_candidates = max_candidates
        self.max_rows = max_rows

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        b, t = videos.shape[:2]
        pool = candidate_masks(t, k, self.max_candidates, generator)  # (n, k)
        budget = min(self.evaluations, len(pool))
        encoded = pool.double() / max(t - 1, 1)
        tried = torch.zeros(b, len(pool), dtype=torch.bool)
        # Initial design: distinct random candidates per video.
        picks = torch.stack([torch.randperm(len(pool), generator=generator)[: min(self.initial, budget)] for _ in range(b)])
        losses = probe_candidates(attack, videos, labels, pool[picks].to(videos.device), self.probe_steps, self.max_rows)
        losses = losses.double().cpu()
        tried[torch.arange(b).unsqueeze(1), picks] = True
        while picks.shape[1] < budget:
            model = fit_surrogate(encoded[picks], losses)
            scores = log_expected_improvement(model, encoded, losses.min(dim=1).values)
            scores[tried] = -torch.inf
            nxt = scores.argmax(dim=1, keepdim=True)  # (B, 1)
            loss = probe_candidates(attack, videos, labels, pool[nxt].to(videos.device), self.probe_steps, self.max_rows)
            picks = torch.cat([picks, nxt], dim=1)
            losses = torch.cat([losses, loss.double().cpu()], dim=1)
            tried[torch.arange(b), nxt.squeeze(1)] = True
        best = losses.argmin(dim=1)
        self.chosen_loss = losses.min(dim=1).values  # (B,) probe loss of the chosen masks
        return pool[picks[torch.arange(b), best]].to(videos.device)
