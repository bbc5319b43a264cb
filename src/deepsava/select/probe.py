"""Scoring candidate frame masks with the attack's own short generator run."""

import itertools
import math

import torch


def probe_candidates(attack, videos: torch.Tensor, labels: torch.Tensor, candidates: torch.Tensor,
                     steps: int, max_rows: int = 32) -> torch.Tensor:
    """Probe loss of every candidate mask of every video -> (B, n); lower = more adversarial.

    videos (B, T, C, H, W), labels (B,), candidates (B, n, k) frame indices. All
    B*n (video, mask) pairs are run as batches of at most ``max_rows`` rows.
    """
    b, n, k = candidates.shape
    rows = torch.arange(b * n, device=videos.device)
    losses = torch.empty(b * n, device=videos.device)
    flat = candidates.reshape(b * n, k)
    for chunk in rows.split(max_rows):
        owner = chunk // n
        losses[chunk] = attack.probe(videos[owner], labels[owner], flat[chunk], steps)
    return losses.view(b, n)


def candidate_masks(num_frames: int, k: int, limit: int, generator: torch.Generator) -> torch.Tensor:
    """Candidate masks as sorted frame indices (n, k): all C(T, k) if at most ``limit``, else a random sample."""
    if math.comb(num_frames, k) <= limit:
        return torch.tensor(list(itertools.combinations(range(num_frames), k)), dtype=torch.long).view(-1, k)
    seen = set()
    while len(seen) < limit:
        seen.add(tuple(sorted(torch.randperm(num_frames, generator=generator)[:k].tolist())))
    return torch.tensor(sorted(seen), dtype=torch.long)


def random_masks(batch: int, num_frames: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """One random mask per video as sorted frame indices (B, k)."""
    masks = torch.stack([torch.randperm(num_frames, generator=generator)[:k] for _ in range(batch)])
    return masks.sort(dim=1).values
