"""Adversarial training by injection (paper Section 4.3, Figure 5a, Table 10).

Before training, N videos of the training split (a seeded, class-balanced
choice) are attacked once with DeepSAVA on the model as it is at the start, and
the model then trains on the clean split plus these N adversarial videos. The
undefended comparison (``unmodified=True``) adds the same N videos unmodified,
as the paper does ("we change the adversarial examples to unmodified videos").

As in the attack's evaluation, a video the model already misclassifies is not
attacked (it is injected unmodified) and an attack stops at the first step that
fools the model. The N videos are attacked in batches of ``batch_size`` in the
order they were chosen, each batch seeded from its first video's index; under
torchrun each process attacks every ``world_size``-th batch and the processes
exchange what they made over the process group, so N processes inject exactly the
videos one process does, in the same order. The first process writes them next to
the checkpoint (``<out>.injected.safetensors``: the perturbed frames and their
indices, with the identity of the injection: its parameters, seed, chosen videos,
model, starting weights and data) and reads them back when an interrupted run
resumes with the same identity.
"""

import json
from pathlib import Path

import torch
from deepsava.progress import progress_bar
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import ConcatDataset, Dataset, Subset

from deepsava.attacks import DeepSAVA
from deepsava.defend.base import Defence
from deepsava.distributed import Ranks, from_main, gather
from deepsava.errors import InvalidArgumentError
from deepsava.experiment.plan import video_order
from deepsava.models.weights import load_weights_file
from deepsava.perturb import scatter_frames
from deepsava.runtime import derived_seed, seed_everything


class InjectedVideos(Dataset):
    """Videos of ``base`` at ``indices`` with ``frames`` (N, k) replaced by ``values`` (N, k, C, H, W)."""

    def __init__(self, base: Dataset, indices: list[int], frames: torch.Tensor, values: torch.Tensor):
        self.base, self.indices, self.frames, self.values = base, indices, frames, values

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        clip, label = self.base[self.indices[i]]
        clip = torch.as_tensor(clip)
        return scatter_frames(clip[None], self.frames[i : i + 1], self.values[i : i + 1])[0], label


class InjectDefence(Defence):
    """Train on the clean split plus N DeepSAVA adversarial videos (or N unmodified copies).

    Args:
        examples: N, videos added to the training set.
        unmodified: add the N videos unmodified (the undefended comparison).
        batch_size: videos attacked together (default 8).
        **attack: DeepSAVA's options (``frames``, ``selector``, ``steps``, ``lr``, ``lam``,
            ``mode``, ``ssim_budget``, ``l21_budget``); by default one frame, the first
            (the frame the paper's evaluation attacks), 100 steps at lr 0.01.
    """

    name = "inject"

    def __init__(self, examples: int, unmodified: bool = False, batch_size: int = 8, **attack):
        if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
            raise InvalidArgumentError(f"examples must be a positive integer, got {examples!r}")
        self.examples, self.unmodified, self.batch_size = examples, unmodified, batch_size
        self.attack = {"frames": 1, "selector": "first", **attack}
        DeepSAVA(torch.nn.Identity(), **self.attack)  # its own checks, now rather than after training starts

    def params(self) -> dict:
        return {"method": self.name, "examples": self.examples, "unmodified": self.unmodified, **self.attack}

    def chosen(self, train_set: Dataset, seed: int) -> list[int]:
        """Indices of the N training videos injected (a seeded class-interleaved order, so near class-balanced)."""
        labels = getattr(train_set, "labels", None)
        labels = [int(y) for y in (labels if labels is not None else [train_set[i][1] for i in range(len(train_set))])]
        if self.examples > len(labels):
            raise InvalidArgumentError(f"cannot inject {self.examples} videos: the training split has {len(labels)}")
        return video_order(labels, derived_seed(seed, "inject"))[: self.examples]

    def training_set(self, model, train_set: Dataset, *, ranks: Ranks, workdir: Path | None, seed: int, source: dict,
                     progress: bool) -> Dataset:
        indices = self.chosen(train_set, seed)
        if self.unmodified:
            return ConcatDataset([train_set, Subset(train_set, indices)])
        path = Path(f"{workdir}.injected.safetensors") if workdir is not None else None
        identity = json.dumps({**self.params(), "batch_size": self.batch_size, "seed": seed, "indices": indices,
                               "source": source}, sort_keys=True)
        made = from_main(ranks, lambda: _stored(path, identity))
        if made is None:
            batches = [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
            mine = self._generate(model, train_set, batches, ranks, seed, progress)
            parts = {number: part for shares in gather(ranks, mine) for number, part in shares.items()}
            made = {key: torch.cat([parts[n][key] for n in range(len(batches))]).contiguous()
                    for key in ("frames", "values")}
            if path is not None and ranks.main:
                tmp = path.with_name(path.name + ".tmp")
                save_file(made, str(tmp), metadata={"identity": identity})
                tmp.replace(path)
        return ConcatDataset([train_set, InjectedVideos(train_set, indices, made["frames"], made["values"])])

    def _generate(self, model, train_set: Dataset, batches: list[list[int]], ranks: Ranks, seed: int,
                  progress: bool) -> dict[int, dict[str, torch.Tensor]]:
        """Attack this process's share of ``batches`` (every ``world_size``-th) with DeepSAVA.

        Returns ``{batch number: {"frames": (n, k), "values": (n, k, C, H, W)}}`` on the CPU.
        A batch is seeded from its first video's index, so a batch gives the same
        examples on whichever process attacks it.
        """
        mine = range(ranks.rank, len(batches), ranks.world_size)
        made = {}
        with progress_bar("videos", enabled=progress and ranks.main, transient=True) as bar:
            task = bar.add_task(f"injection: DeepSAVA on {sum(len(batches[n]) for n in mine)} training videos",
                                total=len(mine))
            for number in mine:
                batch = batches[number]
                videos = torch.stack([torch.as_tensor(train_set[i][0]) for i in batch]).to(ranks.device)
                labels = torch.tensor([int(train_set[i][1]) for i in batch], device=ranks.device)
                batch_seed = derived_seed(seed, "inject", batch[0])
                seed_everything(batch_seed)
                result = DeepSAVA(model, seed=batch_seed, **self.attack)(videos, labels)
                values = torch.stack([video[f] for video, f in zip(result.adversarial, result.frames)])
                made[number] = {"frames": result.frames.cpu(), "values": values.cpu()}
                bar.advance(task)
        return made


def _stored(path: Path | None, identity: str) -> dict[str, torch.Tensor] | None:
    """The examples in ``path`` when it holds this very injection (written before an interruption), else None."""
    if path is None or not path.is_file():
        return None
    with safe_open(str(path), "pt") as f:
        if (f.metadata() or {}).get("identity") != identity:
            return None
    return load_weights_file(path)
