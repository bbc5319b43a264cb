"""Score-based black-box DeepSAVA: DeepSAVA's perturbation and objective, optimised from the model's outputs alone.

The perturbation, its objective and its budgets are :class:`DeepSAVA`'s
(``perturbed_frames``: noise N and flow U on the k selected frames in the same
modes, projected onto the SSIM / l2,1 budgets; ``objective``: lambda * sum(1 - SSIM)
plus the criterion's adversarial loss). What differs is how N and U are found:

- they are parametrised at 1/``scale`` of the frame's height and width (N: (B, k, C,
  H/scale, W/scale), U: (B, k, 2, H/scale, W/scale)) and upsampled bilinearly, so the
  search space is ``scale``**2 times smaller;
- their gradient is estimated, never back-propagated: NES with antithetic Gaussian
  samples (Ilyas et al., 2018), ``samples`` = n pairs per step,

      g = 1 / (2 sigma n) * sum_j [f(theta + sigma u_j) - f(theta - sigma u_j)] u_j,   u_j ~ N(0, I),

  where f is the objective computed from the model's output under ``torch.no_grad()``;
- Adam steps on g, at DeepSAVA's learning rates (``noise_lr``, ``flow_lr``).

Queries (every forward of a video counts, one per video per forward): 1 for the
clean forward; then the frame selection's probes, at most ``selection_share`` of
``queries``; then the attack, 2n per step. Every point evaluated is a candidate:
with early stop, the first sample that fools the model is the result and its video
stops. A video that cannot pay for another step (2n, keeping one back) or reaches
``steps`` spends its last query on the point it reached, which is returned; so no
video ever uses more than ``queries``. ``AttackResult.queries`` (each record's
``queries``) is what each video used; the base class's final check of the returned
videos repeats points already queried and is not counted.

A probe of s steps (how selectors score a candidate mask) draws s antithetic pairs of
coarse perturbations of scale sigma at the candidate frames (2s queries) and scores the
mask by the mean over the pairs of the lower adversarial loss, about the clean loss
minus sigma * E|g.u|: how fast the attack can lower the loss there. The SSIM term is
left out: its first-order change at zero perturbation is zero, and its second-order
change, which differs from frame to frame, drowns that signal in a few samples. The
probes' budget is pooled over the batch (B x the share) and each video is charged an
equal part: exact for every shipped selector, which all probe every video equally
(:func:`deepsava.select.probe.probe_candidates`). A selection that needs more than its
share stops with an error that says how to fit it. The saliency selector needs the
model's gradient and is refused.
"""

import math

import torch
import torch.nn.functional as F

from deepsava.attacks.base import Optimised, _is_count, check_finite
from deepsava.attacks.deepsava import DeepSAVA
from deepsava.errors import InvalidArgumentError
from deepsava.perturb import gather_frames, scatter_frames

DEFAULT_QUERIES = 5000  # model queries per video
CHUNK = 32  # videos per model forward


class BlackBoxDeepSAVA(DeepSAVA):
    """DeepSAVA from output scores only: antithetic NES on a coarse N and U, at most ``queries`` per video.

    Args (besides :class:`DeepSAVA`'s, which mean the same; ``lr`` is Adam's step on the estimate):
        queries: model queries allowed per video, its clean forward and its frame selection's probes included (>= 2).
        samples: antithetic pairs per gradient estimate (2 * samples queries per step).
        sigma: the scale of the search distribution (noise in pixel values, flow in pixels), > 0.
        scale: N and U are optimised at 1/scale of the frame's height and width and upsampled bilinearly.
        selection_share: the share of ``queries`` the frame selection's probes may use, in [0, 1).
        steps: iteration limit; default the most steps ``queries`` can pay for.
    """

    name = "deepsava-bb"

    def __init__(self, model, frames: int = 1, selector="bo", mode: str = "combined", lam: float | None = None,
                 steps: int | None = None, lr: float = 0.01, noise_lr: float | None = None, flow_lr: float | None = None,
                 ssim_budget: float | None = None, l21_budget: float | None = None, queries: int = DEFAULT_QUERIES,
                 samples: int = 10, sigma: float = 0.01, scale: int = 8, selection_share: float = 0.25,
                 targeted: bool = False, seed: int = 0, selector_options: dict | None = None, criterion=None,
                 early_stop: bool = True):
        check_finite(sigma=sigma, selection_share=selection_share)
        for label, value in (("queries", queries), ("samples", samples), ("scale", scale)):
            if not _is_count(value):
                raise InvalidArgumentError(f"{label} must be a positive integer, got {value!r}")
        if queries < 2:
            raise InvalidArgumentError(f"queries must be at least 2 (the clean forward and one attempt), got {queries}")
        if not sigma > 0:
            raise InvalidArgumentError(f"sigma must be positive, got {sigma}")
        if not 0 <= selection_share < 1:
            raise InvalidArgumentError(f"selection_share must lie in [0, 1), got {selection_share}")
        super().__init__(model, frames, selector, mode, lam, max(1, queries // (2 * samples)) if steps is None else steps,
                         lr, noise_lr, flow_lr, ssim_budget, l21_budget, targeted, seed, selector_options, criterion,
                         early_stop)
        if getattr(self.selector, "name", None) == "saliency":
            raise InvalidArgumentError("the saliency selector needs the model's gradient, which a black-box attack"
                                       " does not use: choose bo, brute, anneal, genetic, random or first")
        self.queries = queries
        self.samples = samples
        self.sigma = sigma
        self.scale = scale
        self.selection_share = selection_share
        self._pool = None  # [queries allowed, queries spent], pooled over the batch whose frames are being selected
        self._selection_spent = None  # (B,) queries each video of the batch spent on frame selection
        self._main_spent = None  # (B,) queries each video spent in the attack's own run

    def params(self) -> dict:
        return {**super().params(), "queries": self.queries, "samples": self.samples, "sigma": self.sigma,
                "scale": self.scale, "selection_share": self.selection_share}

    @property
    def selection_queries(self) -> int:
        """Queries per video the frame selection may use: ``selection_share`` of ``queries``, leaving 2."""
        return min(math.floor(self.selection_share * self.queries), self.queries - 2)

    # -- the query accounting around the base class's run ---------------------------------------

    def _attack(self, videos, labels, targets):
        result = super()._attack(videos, labels, targets)
        queries = torch.ones(len(labels), dtype=torch.long)  # the clean forward of every video
        attacked = result.clean_correct
        if attacked.any():
            queries[attacked] += (self._selection_spent + self._main_spent).cpu()
        result.queries = queries
        return result

    def select_frames(self, videos, labels):
        """The selector's frames (B, k), its probes within ``selection_share`` of each video's queries."""
        b = videos.shape[0]
        self._pool = [b * self.selection_queries, 0]
        try:
            frames = super().select_frames(videos, labels)
            spent = self._pool[1]
        finally:
            self._pool = None
        if spent % b:
            raise InvalidArgumentError(f"the selector probed the {b} videos unequally ({spent} queries): a black-box"
                                       " attack needs a selector that probes every video equally")
        self._selection_spent = torch.full((b,), spent // b, dtype=torch.long, device=videos.device)
        return frames

    @torch.no_grad()
    def probe(self, videos, labels, frames, steps):
        """Score (B,) of candidate frames (B, k), lower = better: the mean over ``steps`` antithetic pairs at zero
        perturbation of the lower adversarial loss (2 * steps queries a video; see the module)."""
        b = videos.shape[0]
        if self._pool is not None:
            allowed, spent = self._pool
            if spent + 2 * steps * b > allowed:
                raise InvalidArgumentError(
                    f"frame selection needs more than its share of the query budget ({self.selection_queries} of"
                    f" {self.queries} per video, selection_share={self.selection_share}): raise queries or"
                    " selection_share, lower the selector's evaluations or probe_steps, or use the selector first"
                    " or random")
            self._pool[1] += 2 * steps * b
        clean = gather_frames(videos, frames)
        rows = torch.arange(b, device=videos.device)
        generator = torch.Generator(device=videos.device).manual_seed(self.seed)
        points, _ = self._antithetic(self._zeros(clean), rows, steps, generator)
        owners = rows.repeat_interleave(2 * steps)
        perturbed, _ = self._frames_at(clean[owners], points)
        loss = self.adversarial_loss(self._query(videos, frames, owners, perturbed), labels[owners]).view(b, 2, steps)
        return loss.min(dim=1).values.mean(dim=1)

    def optimise(self, videos, labels, frames, steps, early_stop=True) -> Optimised:
        """The query-only generator on frames (B, k): at most ``steps`` steps and ``queries`` per video (in the
        attack's own run, what its clean forward and its selection left); ``Optimised.queries``: those used."""
        if self._main_run:
            budget = self.queries - 1 - self._selection_spent
        else:
            budget = torch.full((videos.shape[0],), self.queries, dtype=torch.long, device=videos.device)
        out = self._search(videos, labels, frames, steps, early_stop, budget)
        if self._main_run:
            self._main_spent = out.queries
        return out

    # -- the pieces of the search ------------------------------------------------------------------

    def _zeros(self, clean: torch.Tensor) -> list[torch.Tensor]:
        """Zero coarse parameters for frames (B, k, C, H, W): [N], [U] or [N, U] by mode, each (B, k, ., h', w')."""
        b, k, c, h, w = clean.shape
        coarse = (math.ceil(h / self.scale), math.ceil(w / self.scale))
        channels = {"additive": (c,), "spatial": (2,), "combined": (c, 2)}[self.mode]
        return [clean.new_zeros(b, k, n, *coarse) for n in channels]

    def _frames_at(self, clean: torch.Tensor, params: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Perturbed frames (n, k, C, H, W) of clean frames (n, k, C, H, W) at coarse parameters, and the full flow."""
        h, w = clean.shape[-2:]
        full = [F.interpolate(p.flatten(0, 1), size=(h, w), mode="bilinear", align_corners=False)
                .view(*p.shape[:3], h, w) for p in params]
        noise = full[0] if self.mode != "spatial" else None
        flow = full[-1] if self.mode != "additive" else None
        return self.perturbed_frames(clean, noise, flow), flow

    def _antithetic(self, params: list[torch.Tensor], rows: torch.Tensor, pairs: int,
                    generator: torch.Generator) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``pairs`` antithetic points around params[rows]: the points [(n * 2 pairs, k, ., h', w')], per video
        +sigma u_1..u_p then -sigma u_1..u_p, and the draws u [(n, pairs, k, ., h', w')].

        Drawn for the whole batch, so that a video's search does not depend on when the others stop.
        """
        draws = [torch.randn(p.shape[0], pairs, *p.shape[1:], generator=generator, device=p.device)[rows]
                 for p in params]
        points = [(p[rows].unsqueeze(1) + self.sigma * torch.cat([u, -u], dim=1)).flatten(0, 1)
                  for p, u in zip(params, draws)]
        return points, draws

    def _query(self, videos, frames, owners, perturbed) -> torch.Tensor:
        """The model's output for videos[owners] with their frames replaced by ``perturbed`` (n, k, C, H, W)."""
        outputs = []
        for chunk in torch.arange(len(owners), device=owners.device).split(CHUNK):
            rows = owners[chunk]
            outputs.append(self.model(scatter_frames(videos[rows], frames[rows], perturbed[chunk])))
        return torch.cat(outputs)

    @torch.no_grad()
    def _search(self, videos, labels, frames, steps, early_stop, budget) -> Optimised:
        """NES + Adam on coarse N and U from zero; ``budget`` (B,) queries per video; returns ``queries`` used."""
        b = frames.shape[0]
        device = videos.device
        clean = gather_frames(videos, frames)  # (B, k, C, H, W)
        params = self._zeros(clean)
        rates = {"additive": (self.noise_lr,), "spatial": (self.flow_lr,), "combined": (self.noise_lr, self.flow_lr)}
        optimizer = torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(params, rates[self.mode])])
        generator = torch.Generator(device=device).manual_seed(self.seed)
        pairs = self.samples
        best = clean.clone()
        best_flow = None if self.mode == "additive" else clean.new_zeros(b, *clean.shape[1:2], 2, *clean.shape[3:])
        iterations = torch.zeros(b, dtype=torch.long, device=device)
        fooled = torch.zeros(b, dtype=torch.bool, device=device)
        loss = torch.zeros(b, device=device)
        used = torch.zeros(b, dtype=torch.long, device=device)

        def keep(rows, perturbed, flow, value, now, step):
            best[rows], loss[rows], fooled[rows], iterations[rows] = perturbed, value, now, step
            if flow is not None:
                best_flow[rows] = flow

        active = torch.arange(b, device=device)
        last = max(1, min(steps, int(budget.max() - 1) // (2 * pairs)))  # the most steps any budget pays for
        for step in range(steps + 1):
            go = budget[active] - used[active] >= 2 * pairs + 1
            if step == steps:
                go[:] = False
            done = active[~go]
            if len(done):  # where these videos end: their last query, the point returned
                perturbed, flow = self._frames_at(clean[done], [p[done] for p in params])
                output = self._query(videos, frames, done, perturbed)
                used[done] += 1
                keep(done, perturbed, flow, self.objective(perturbed, clean[done], output, labels[done], flow),
                     self.is_fooled(output, labels[done]), step)
            rows = active[go]
            if len(rows) == 0:
                break
            n = len(rows)
            points, draws = self._antithetic(params, rows, pairs, generator)
            owners = rows.repeat_interleave(2 * pairs)
            perturbed, flow = self._frames_at(clean[owners], points)
            output = self._query(videos, frames, owners, perturbed)
            used[rows] += 2 * pairs
            value = self.objective(perturbed, clean[owners], output, labels[owners], flow).view(n, 2 * pairs)
            if early_stop:
                now = self.is_fooled(output, labels[owners]).view(n, 2 * pairs)
                hit = now.any(dim=1)
                if hit.any():  # the first sample of each such video that fools the model is its result
                    pick = torch.arange(n, device=device)[hit] * 2 * pairs + now[hit].int().argmax(dim=1)
                    keep(rows[hit], perturbed[pick], None if flow is None else flow[pick], value.flatten()[pick],
                         torch.ones(len(pick), dtype=torch.bool, device=device), step)
                    rows, value, draws = rows[~hit], value[~hit], [u[~hit] for u in draws]
            difference = (value[:, :pairs] - value[:, pairs:]) / (2 * self.sigma * pairs)  # (n, pairs)
            for p, u in zip(params, draws):
                p.grad = torch.zeros_like(p)
                p.grad[rows] = (difference.view(*difference.shape, 1, 1, 1, 1) * u).sum(dim=1)
            optimizer.step()
            active = rows
            if self._main_run and self.progress is not None:
                self.progress(min(1.0, (step + 1) / last))
        return Optimised(scatter_frames(videos, frames, best), iterations, fooled, loss, best_flow, used)
