"""Key frames by a genetic algorithm over masks (the paper's other slower alternative to BO)."""

import torch

from deepsava.select.anneal import neighbour
from deepsava.select.probe import probe_candidates, random_masks


def crossover(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Child masks (B, k): k distinct frames drawn from the union of two parents' frames."""
    children = []
    for x, y in zip(a.tolist(), b.tolist()):
        union = sorted(set(x) | set(y))
        pick = torch.randperm(len(union), generator=generator)[: len(x)]
        children.append(sorted(union[i] for i in pick.tolist()))
    return torch.tensor(children, dtype=torch.long)


class Genetic:
    """Population per video; keep the better half, refill by crossover and mutation."""

    name = "genetic"

    def __init__(self, population: int = 6, generations: int = 3, mutation: float = 0.3, probe_steps: int = 5):
        self.population = population
        self.generations = generations
        self.mutation = mutation
        self.probe_steps = probe_steps

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        b, t = videos.shape[:2]
        p = self.population
        people = torch.stack([random_masks(b, t, k, generator) for _ in range(p)], dim=1)  # (B, P, k)
        fitness = probe_candidates(attack, videos, labels, people.to(videos.device), self.probe_steps).cpu()
        for _ in range(self.generations):
            order = fitness.argsort(dim=1)
            elite = people.gather(1, order[:, : p // 2, None].expand(-1, -1, k))
            elite_fit = fitness.gather(1, order[:, : p // 2])
            parents = torch.randint(p // 2, (b, p - p // 2, 2), generator=generator)
            kids = torch.stack([
                crossover(elite[torch.arange(b), parents[:, j, 0]], elite[torch.arange(b), parents[:, j, 1]], generator)
                for j in range(p - p // 2)], dim=1)
            mutate = torch.rand(b, p - p // 2, generator=generator) < self.mutation
            if k < t and mutate.any():
                flat = kids.view(-1, k)
                flat[mutate.view(-1)] = neighbour(flat[mutate.view(-1)], t, generator)
            kid_fit = probe_candidates(attack, videos, labels, kids.to(videos.device), self.probe_steps).cpu()
            people, fitness = torch.cat([elite, kids], dim=1), torch.cat([elite_fit, kid_fit], dim=1)
        best = fitness.argmin(dim=1)
        self.chosen_loss = fitness.min(dim=1).values
        return people[torch.arange(b), best].to(videos.device)
