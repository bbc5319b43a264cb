"""Adversarial training by injection (paper Section 4.3, Figure 5a, Table 10).

Before training, N videos of the training split (a seeded, class-balanced
choice) are attacked once with DeepSAVA on the model as it is at the start, and
the model then trains on the clean split plus these N adversarial videos. The
undefended comparison (``unmodified=True``) adds the same N videos unmodified,
as the paper does ("we change the adversarial examples to unmodified videos").

As in the attack's evaluation, a video the model already misclassifies is not
attacked (it is injected unmodified) and an attack stops at the first step that
fools the model. The generated frames are written next to the checkpoint
(``<out>.injected-rank<r>.safetensors``, only the perturbed frames and their
indices) and read back when an interrupted training resumes; under torchrun each
process attacks its share of the N videos.
"""

import json
from pathlib import Path

import torch
from rich.progress import Progress
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import ConcatDataset, Dataset

from deepsava.attacks import DeepSAVA
from deepsava.defend.base import Defence
from deepsava.distributed import Ranks, barrier
from deepsava.errors import InvalidArgumentError
from deepsava.evaluate.runner import video_order
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

    def training_set(self, model, train_set: Dataset, *, ranks: Ranks, workdir: Path, seed: int,
                     progress: bool) -> Dataset:
        indices = self.chosen(train_set, seed)
        if self.unmodified:
            return ConcatDataset([train_set, torch.utils.data.Subset(train_set, indices)])
        if workdir is None and ranks.distributed:
            raise InvalidArgumentError("injection on several processes shares its examples through files: give out")
        files = [Path(f"{workdir}.injected-rank{r}.safetensors") for r in range(ranks.world_size)] if workdir else []
        share = indices[ranks.rank :: ranks.world_size]
        if files and self._matches(files[ranks.rank], share, seed):
            made = load_weights_file(files[ranks.rank])
        else:
            made = self._generate(model, train_set, share, ranks, seed, progress)
            if files:
                save_file(made, str(files[ranks.rank]) + ".tmp", metadata={"identity": self._identity(share, seed)})
                Path(str(files[ranks.rank]) + ".tmp").replace(files[ranks.rank])
        barrier(ranks)
        parts = [load_weights_file(path) for path in files] if ranks.distributed else [made]
        order = [i for r in range(ranks.world_size) for i in indices[r :: ranks.world_size]]
        frames = torch.cat([part["frames"] for part in parts])
        values = torch.cat([part["values"] for part in parts])
        return ConcatDataset([train_set, InjectedVideos(train_set, order, frames, values)])

    def _identity(self, share: list[int], seed: int) -> str:
        return json.dumps({**self.params(), "seed": seed, "indices": share}, sort_keys=True)

    def _matches(self, path: Path, share: list[int], seed: int) -> bool:
        """True when ``path`` holds the same share of the same injection (written before an interruption)."""
        if not path.is_file():
            return False
        with safe_open(str(path), "pt") as f:
            return (f.metadata() or {}).get("identity") == self._identity(share, seed)

    def _generate(self, model, train_set: Dataset, share: list[int], ranks: Ranks, seed: int,
                  progress: bool) -> dict[str, torch.Tensor]:
        """Attack the videos at ``share`` with DeepSAVA: ``{"frames": (n, k), "values": (n, k, C, H, W)}``."""
        clip = torch.as_tensor(train_set[share[0] if share else 0][0])
        frames = [torch.zeros(0, self.attack["frames"], dtype=torch.long)]
        values = [torch.zeros(0, self.attack["frames"], *clip.shape[1:])]
        with Progress(disable=not (progress and ranks.main), transient=True) as bar:
            task = bar.add_task(f"injection: DeepSAVA on {len(share)} training videos", total=len(share))
            for start in range(0, len(share), self.batch_size):
                batch = share[start : start + self.batch_size]
                videos = torch.stack([torch.as_tensor(train_set[i][0]) for i in batch]).to(ranks.device)
                labels = torch.tensor([int(train_set[i][1]) for i in batch], device=ranks.device)
                batch_seed = derived_seed(seed, "inject", batch[0])
                seed_everything(batch_seed)
                result = DeepSAVA(model, seed=batch_seed, **self.attack)(videos, labels)
                frames.append(result.frames)
                values.append(torch.stack([video[f] for video, f in zip(result.adversarial, result.frames)]))
                bar.advance(task, len(batch))
        return {"frames": torch.cat(frames).contiguous(), "values": torch.cat(values).contiguous()}
