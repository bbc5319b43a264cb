"""Training a classifier with a defence, on one process or many, resumable after an interruption.

:func:`adversarial_train` runs the outer minimisation of the paper's Eq. 5: for
every batch the defence makes the inputs (its inner maximisation, with the model
in eval mode) and the loss; Adam with a cosine-decayed learning rate takes the
step. The same code runs alone or under ``torchrun``:

- The batch size is the global one: each of N processes takes ``batch_size / N``
  videos of every batch (a DistributedSampler; one process uses the same sampler
  with one replica), and DistributedDataParallel averages the gradients, so a
  step sees the same videos and, when each video's loss does not depend on the
  rest of its batch, takes the same step as on one process, up to the order in
  which the gradients are summed.
- That holds for the adversarial examples by construction (made in eval mode,
  per-video seeds). Batch-norm layers in training mode normalise by the
  statistics of each process's share of the batch; with ``freeze_bn`` they keep
  the statistics of the model as loaded (fine-tuning), which makes the whole
  step independent of how the batch is split. On GPUs convert to SyncBatchNorm
  to share statistics instead (``sync_bn``; not available on the CPU).
- Where N processes do not compute what one does: (a) a training set whose size
  is not a multiple of N: the sampler repeats the first videos of each epoch's
  order to even the shares, so those are trained on twice; (b) dropout (only the
  paper preset of I3D has any): each process draws its masks from its own
  generator; (c) batch norm in training mode without ``sync_bn`` (above); (d)
  the order of summation: the weights differ by float rounding, and a defence
  that steps by the sign of a gradient (PGD, combined, TRADES) can turn that into
  a whole step of difference in a pixel whose gradient is near zero, after which
  the runs drift apart (tests/test_defend_distributed.py traces it).
- Everything random is derived from (seed, epoch, video index) or (seed, epoch,
  rank): shuffling (the sampler's seed + epoch), each video's random start or
  frames (``seeds`` passed to the defence) and dropout (the global generator,
  reseeded every epoch). So a run resumed from its last epoch state
  (:mod:`deepsava.defend.state`) repeats the uninterrupted run exactly.

With ``out`` the first process alone reads and writes files: it decides whether
to resume (an epoch state whose identity matches the run's) and hands the state
to the others (:func:`deepsava.distributed.from_main`), writes the epoch state
after every epoch and, at the end, the checkpoint ``out.safetensors`` +
``out.json`` (its metadata records the defence, the training parameters and the
history), then removes the state file.
"""

import time
from pathlib import Path

import torch
from deepsava.progress import progress_bar
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from deepsava.defend.base import Defence
from deepsava.defend.state import read_state, restore_state, save_state, state_file, weights_digest
from deepsava.distributed import Ranks, barrier, from_main, sum_across
from deepsava.errors import InvalidArgumentError
from deepsava.models.checkpoint import save_checkpoint
from deepsava.runtime import derived_seed, resolve_device
from deepsava.train.classifier import EpochTally, evaluate_accuracy, frozen_modules, optimiser_step


class IndexedVideos(Dataset):
    """``(clip, label, index)`` items of a dataset: the index seeds what the defence draws for that video."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        clip, label = self.base[i]
        return clip, label, i


def train_mode(model: nn.Module, frozen: list[nn.Module], freeze_bn: bool) -> None:
    """Training mode, except frozen submodules and (with ``freeze_bn``) every batch-norm layer."""
    model.train()
    for module in frozen:
        module.eval()
    if freeze_bn:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def sharded_accuracy(model: nn.Module, dataset: Dataset, ranks: Ranks, batch_size: int) -> float:
    """Clean top-1 on ``dataset``, each process evaluating every ``world_size``-th video."""
    share = Subset(dataset, range(ranks.rank, len(dataset), ranks.world_size))
    hits = 0.0
    if len(share):
        result = evaluate_accuracy(model, share, batch_size, ranks.device)
        hits = round(result["top1"] * result["n"])
    hits, total = sum_across(ranks, [hits, len(share)])
    return hits / total


def adversarial_train(
    model: nn.Module,
    defence: Defence,
    train_set: Dataset,
    test_set: Dataset | None = None,
    *,
    epochs: int = 5,
    lr: float = 1e-4,
    batch_size: int = 8,
    seed: int = 0,
    freeze: tuple[str, ...] = (),
    freeze_bn: bool = False,
    sync_bn: bool = False,
    out: str | Path | None = None,
    metadata: dict | None = None,
    data: dict | None = None,
    ranks: Ranks | None = None,
    device: str | torch.device = "cpu",  # cpu, cuda or auto
    progress: bool = True,
) -> list[dict]:
    """Train ``model`` in place with ``defence``; return one dict per epoch.

    Each record holds ``epoch``, ``loss``, ``train_top1`` (accuracy on what the
    loss classified) and, with ``test_set``, the clean ``test_top1``. ``freeze``
    names submodules kept fixed (``("cnn",)``: the paper's route for a recurrent
    head over a defended frame CNN). ``ranks`` comes from
    :func:`deepsava.distributed.setup` under torchrun (default: one process on
    ``device``). With ``out``, resumes from ``out``'s epoch state when present
    and writes the final checkpoint with ``metadata`` added. ``data`` names the
    training data (``deepsava defend``: dataset, frames, size, root); with the
    defence, the model, its preset, a digest of the weights it starts from and the
    training settings it is the run's identity, which a state must match to be resumed.
    """
    ranks = ranks or Ranks(0, 1, resolve_device(device) if isinstance(device, str) else device)
    for name, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)):
        if not value > 0:
            raise InvalidArgumentError(f"{name} must be positive, got {value}")
    if batch_size % ranks.world_size:
        raise InvalidArgumentError(
            f"the batch size {batch_size} must split evenly over {ranks.world_size} processes")
    frozen = frozen_modules(model, freeze)
    model.to(ranks.device).eval()
    if sync_bn:
        if ranks.device.type != "cuda":
            raise InvalidArgumentError("sync_bn needs CUDA: SyncBatchNorm does not run on the CPU")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    start = time.perf_counter()
    source = {"model": getattr(model, "name", type(model).__name__), "preset": getattr(model, "preset", None),
              "start_weights": weights_digest(model), **(data or {})}
    identity = {"defence": defence.params(), **source, "train_videos": len(train_set), "epochs": epochs, "lr": lr,
                "batch_size": batch_size, "seed": seed, "freeze": list(freeze), "freeze_bn": freeze_bn,
                "sync_bn": sync_bn}
    state = state_file(out) if out is not None else None
    resumed = from_main(ranks, lambda: read_state(state, identity) if state is not None and state.is_file() else None)
    training_set = defence.training_set(model, train_set, ranks=ranks, workdir=out, seed=seed, source=source,
                                        progress=progress)
    indexed = IndexedVideos(training_set)
    sampler = DistributedSampler(indexed, num_replicas=ranks.world_size, rank=ranks.rank, shuffle=True, seed=seed)
    loader = DataLoader(indexed, batch_size=batch_size // ranks.world_size, sampler=sampler)
    forward = model
    if ranks.distributed:
        forward = DistributedDataParallel(model, device_ids=[ranks.device.index] if ranks.device.type == "cuda" else None)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs * len(loader))
    done, history = restore_state(resumed, model, optimiser, schedule) if resumed is not None else (0, [])

    with progress_bar("batches", enabled=progress and ranks.main) as bar:
        task = bar.add_task(f"{defence.name} training", total=epochs * len(loader), completed=done * len(loader))
        for epoch in range(done + 1, epochs + 1):
            sampler.set_epoch(epoch)
            torch.manual_seed(derived_seed(seed, epoch, ranks.rank))
            tally = EpochTally()
            for videos, labels, index in loader:
                videos, labels = videos.to(ranks.device), labels.to(ranks.device)
                seeds = [derived_seed(seed, epoch, int(i)) for i in index]
                model.eval()
                adversarial = defence.adversarial(model, videos, labels, seeds)
                train_mode(model, frozen, freeze_bn)
                loss, logits = defence.loss(forward, videos, adversarial, labels)
                optimiser_step(optimiser, schedule, loss)
                status = tally.add(loss, logits, labels)
                bar.update(task, advance=1, description=f"{defence.name} epoch {epoch}/{epochs} {status}")
            model.eval()
            loss_sum, correct, seen = sum_across(ranks, [tally.loss_sum, tally.correct, tally.seen])
            record = {"epoch": epoch, "loss": loss_sum / seen, "train_top1": correct / seen}
            if test_set is not None:
                record["test_top1"] = sharded_accuracy(model, test_set, ranks, batch_size)
            history.append(record)
            if state is not None and ranks.main:
                save_state(state, model, optimiser, schedule, epoch, history, identity)
            barrier(ranks)
    model.eval()
    if out is not None and ranks.main:
        training = {**identity, "optimizer": "adam", "schedule": "cosine", "processes": ranks.world_size,
                    "device": str(ranks.device), "threads": torch.get_num_threads(),
                    "seconds": round(time.perf_counter() - start, 1)}
        meta = {**(metadata or {}), "defence": defence.params(), "training": training, "history": history}
        if history and "test_top1" in history[-1]:
            meta["test_top1"] = history[-1]["test_top1"]
        save_checkpoint(model, out, meta)
        state.unlink(missing_ok=True)
    barrier(ranks)
    return history
