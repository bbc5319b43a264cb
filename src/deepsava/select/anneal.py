"""Key frames by simulated annealing over masks (the paper's slower alternative to BO)."""


import torch

from deepsava.select.probe import probe_candidates, random_masks


def neighbour(masks: torch.Tensor, num_frames: int, generator: torch.Generator) -> torch.Tensor:
    """Move one random frame of each mask (B, k) to a random frame not in it -> (B, k) sorted."""
    out = masks.clone()
    for row in out:
        free = [f for f in range(num_frames) if f not in set(row.tolist())]
        slot = int(torch.randint(len(row), (1,), generator=generator))
        row[slot] = free[int(torch.randint(len(free), (1,), generator=generator))]
    return out.sort(dim=1).values


class Annealing:
    """One Metropolis chain per video; temperature ``start`` decays geometrically to ``end``."""

    name = "anneal"

    def __init__(self, evaluations: int = 20, probe_steps: int = 5, start: float = 1.0, end: float = 0.01):
        self.evaluations = evaluations
        self.probe_steps = probe_steps
        self.start, self.end = start, end

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        b, t = videos.shape[:2]
        probe = lambda m: probe_candidates(attack, videos, labels, m.unsqueeze(1).to(videos.device), self.probe_steps).squeeze(1).cpu()  # noqa: E731
        current = random_masks(b, t, k, generator)
        current_loss = probe(current)
        best, best_loss = current.clone(), current_loss.clone()
        for i in range(1, self.evaluations):
            temperature = self.start * (self.end / self.start) ** (i / max(self.evaluations - 1, 1))
            proposal = neighbour(current, t, generator)
            loss = probe(proposal)
            delta = loss - current_loss
            accept = (delta <= 0) | (torch.rand(b, generator=generator) < torch.exp(-delta / temperature).clamp(max=1))
            current[accept], current_loss[accept] = proposal[accept], loss[accept]
            better = loss < best_loss
            best[better], best_loss[better] = proposal[better], loss[better]
        self.chosen_loss = best_loss
        return best.to(videos.device)
