"""The acquisition of Bayesian key-frame selection and its optimiser over an explicit list of masks.

Acquisition: BoTorch's analytic ``LogExpectedImprovement`` (paper Eq. 4 in log space, so that
candidates far from the best still rank), minimising the probe loss, on a batched GP with one
model per video. Optimiser: the best untried candidate of each video over the whole list. This
is what BoTorch's ``optimize_acqf_discrete`` does for one model and one set of points to avoid;
here every video has its own GP and its own tried masks, so the argmax is taken per video.
"""

import warnings

import torch

with warnings.catch_warnings():  # gpytorch's import uses the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.models.model import Model


def log_expected_improvement(model: Model, best: torch.Tensor) -> LogExpectedImprovement:
    """log EI under a GP batched over B videos, minimising; ``best`` (B,) is each video's lowest loss so far."""
    return LogExpectedImprovement(model, best_f=best.unsqueeze(-1), maximize=False)


def best_untried(acquisition, candidates: torch.Tensor, tried: torch.Tensor) -> torch.Tensor:
    """Index (B,) of each video's highest-scoring untried candidate; candidates (n, k), tried (B, n) bool."""
    n, k = candidates.shape
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpytorch rounds tiny negative variances up, and says so
        scores = acquisition(candidates.view(n, 1, 1, k)).T  # (B, n): each point against every video's GP
    return scores.masked_fill(tried, -torch.inf).argmax(dim=1)
