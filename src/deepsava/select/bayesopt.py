"""Key frames by Bayesian optimisation (paper Algorithm 1), alternating with the generator.

Search space: masks of k frames out of T, encoded as their sorted frame indices
scaled to [0, 1] (k numbers; neighbouring frames are close, as they look alike),
listed explicitly (all C(T, k), or a seeded sample). Surrogate: a BoTorch
SingleTaskGP per video (one batched model for the whole batch, Matern-5/2 kernel,
standardised outcomes). Acquisition and its optimiser:
:mod:`deepsava.select.acquisition` (log expected improvement, best untried
candidate). Each evaluation is a short generator probe on the candidate mask
(``probe_steps`` Adam steps from zero perturbation) whose final objective is the
loss; all videos of a batch are probed together. After ``evaluations`` probes (the
first ``initial`` of them random), the mask with the lowest loss is returned and
gets the full attack.
"""

import warnings

import torch

with warnings.catch_warnings():  # gpytorch's import uses the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

from deepsava.errors import InvalidArgumentError
from deepsava.runtime import one_thread
from deepsava.select.acquisition import best_untried, log_expected_improvement
from deepsava.select.probe import candidate_masks, probe_candidates


def fit_surrogate(x: torch.Tensor, y: torch.Tensor) -> SingleTaskGP:
    """Batched GP, one per video: x (B, n, k) in [0, 1], y (B, n) losses."""
    model = SingleTaskGP(x, y.unsqueeze(-1), outcome_transform=Standardize(m=1, batch_shape=x.shape[:1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


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
            with one_thread():  # a GP over a few points: faster without the thread pool
                model = fit_surrogate(encoded[picks], losses)
                acquisition = log_expected_improvement(model, losses.min(dim=1).values)
                nxt = best_untried(acquisition, encoded, tried).unsqueeze(1)  # (B, 1)
            loss = probe_candidates(attack, videos, labels, pool[nxt].to(videos.device), self.probe_steps, self.max_rows)
            picks = torch.cat([picks, nxt], dim=1)
            losses = torch.cat([losses, loss.double().cpu()], dim=1)
            tried[torch.arange(b), nxt.squeeze(1)] = True
        best = losses.argmin(dim=1)
        self.chosen_loss = losses.min(dim=1).values  # (B,) probe loss of the chosen masks
        return pool[picks[torch.arange(b), best]].to(videos.device)
