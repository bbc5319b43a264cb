"""BO's acquisition: BoTorch's LogExpectedImprovement picks the masks the former hand-written log EI picked."""

import math
import warnings

import pytest
import torch

from deepsava.select.acquisition import best_untried, log_expected_improvement
from deepsava.select.bayesopt import fit_surrogate
from deepsava.select.probe import candidate_masks

pytestmark = pytest.mark.usefixtures("one_thread")


def former_log_ei(model, candidates: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    """The hand-written log EI (paper Eq. 4) deepsava used before BoTorch's, minimising -> (B, n)."""
    n, k = candidates.shape
    b = best.shape[0]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        posterior = model.posterior(candidates.view(n, 1, 1, k).expand(n, b, 1, k))
        mu = posterior.mean.view(n, b).T
        sigma = posterior.variance.clamp_min(1e-12).sqrt().view(n, b).T
    u = (best.view(b, 1) - mu) / sigma
    log_phi = -0.5 * u**2 - 0.5 * math.log(2 * math.pi)
    direct = torch.log((log_phi.exp() + u * torch.special.ndtr(u)).clamp_min(1e-300))
    asymptotic = log_phi - 2 * torch.log(u.abs().clamp_min(1.0))
    return sigma.log() + torch.where(u > -5, direct, asymptotic)


def botorch_log_ei(model, candidates: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    n, k = candidates.shape
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return log_expected_improvement(model, best)(candidates.view(n, 1, 1, k)).T


def test_botorch_log_ei_chooses_the_masks_the_former_one_chose():
    """Seeded problems as BO meets them (T, k, 4 random probes, then 3 acquisition steps, 3 videos with
    their own GPs): the chosen masks are the same, except where two candidates tie to rounding."""
    same = total = 0
    for seed in range(8):
        g = torch.Generator().manual_seed(seed)
        t, k, b = int(torch.randint(6, 41, (1,), generator=g)), int(torch.randint(1, 4, (1,), generator=g)), 3
        pool = candidate_masks(t, k, 2048, g)
        encoded = pool.double() / (t - 1)
        weights = torch.randn(b, t, generator=g, dtype=torch.float64)  # each frame's share of the probe loss

        def probe(picks):
            return torch.stack([weights[i][pool[picks[i]]].sum(-1) for i in range(b)]) + 0.05 * torch.randn(
                picks.shape, generator=g, dtype=torch.float64)

        picks = torch.stack([torch.randperm(len(pool), generator=g)[:4] for _ in range(b)])
        losses = probe(picks)
        tried = torch.zeros(b, len(pool), dtype=torch.bool)
        tried[torch.arange(b).unsqueeze(1), picks] = True
        for _ in range(3):
            model = fit_surrogate(encoded[picks], losses)
            best = losses.min(dim=1).values
            chosen = best_untried(log_expected_improvement(model, best), encoded, tried)
            former = former_log_ei(model, encoded, best).masked_fill(tried, -torch.inf)
            ours = botorch_log_ei(model, encoded, best).masked_fill(tried, -torch.inf)
            assert torch.equal(chosen, ours.argmax(dim=1))  # best_untried is the argmax over untried candidates
            rows = torch.arange(b)
            for scores in (former, ours):  # a different choice is a tie under both acquisitions
                assert torch.allclose(scores[rows, chosen], scores[rows, former.argmax(dim=1)], rtol=0, atol=1e-9)
            same += int((chosen == former.argmax(dim=1)).sum())
            total += b
            picks = torch.cat([picks, chosen.unsqueeze(1)], dim=1)
            losses = torch.cat([losses, probe(chosen.unsqueeze(1))], dim=1)
            tried[rows, chosen] = True
    assert same >= 0.95 * total


def test_botorch_log_ei_ranks_where_the_former_asymptotic_form_jumped():
    """The former form switched to its asymptotic expansion at u = -5 and was about 0.1 too high just below it, so a
    candidate further from improving could outrank a closer one; BoTorch's log EI increases with u throughout."""
    model = fit_surrogate(torch.tensor([[[0.0], [1.0]]], dtype=torch.float64),
                          torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    x = torch.linspace(0, 1, 201, dtype=torch.float64).view(-1, 1)
    best = torch.tensor([-3.0], dtype=torch.float64)
    with torch.no_grad():
        posterior = model.posterior(x)
        mean, sigma = posterior.mean.view(-1), posterior.variance.sqrt().view(-1)
    order = ((best - mean) / sigma).argsort()  # by u = (best - mean) / sigma, which spans -5 here
    assert ((best - mean) / sigma).min() < -5 < ((best - mean) / sigma).max()
    log_h = {name: (log_ei(model, x, best)[0] - sigma.log())[order] for name, log_ei in
             (("former", former_log_ei), ("botorch", botorch_log_ei))}  # log EI / sigma: a function of u alone
    assert (log_h["former"].diff() < -0.01).any()
    assert (log_h["botorch"].diff() >= -1e-9).all()
