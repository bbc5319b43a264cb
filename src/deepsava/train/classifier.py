"""Training a classifier on clean videos, and measuring its clean accuracy.

Datasets yield ``(clip (T, C, H, W) float32 in [0, 1], label int)``. Training
uses Adam with a cosine-decayed learning rate and cross-entropy; it is
deterministic for a seed on the CPU (shuffling and augmentation draw from one
seeded generator, data loading runs in the main process).
"""

import torch
import torch.nn.functional as F
from deepsava.progress import progress_bar
from torch import nn
from torch.utils.data import DataLoader, Dataset

from deepsava.errors import InvalidArgumentError
from deepsava.runtime import seed_everything


def shift_videos(videos: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each video ``(B, T, C, H, W)`` by one random offset of up to ``max_shift`` pixels.

    The same offset applies to all frames of a video; edges are replicated.
    """
    b, t, c, h, w = videos.shape
    padded = F.pad(videos.flatten(1, 2), [max_shift] * 4, mode="replicate").view(b, t, c, h + 2 * max_shift, -1)
    offsets = torch.randint(0, 2 * max_shift + 1, (b, 2), generator=generator).tolist()
    return torch.stack([v[..., dy : dy + h, dx : dx + w] for v, (dy, dx) in zip(padded, offsets)])


class EpochTally:
    """Running mean loss and top-1 over the batches of one epoch."""

    def __init__(self):
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> str:
        """Count one batch; return a progress line ("loss 0.123 acc 0.456")."""
        self.loss_sum += loss.item() * len(labels)
        self.correct += (logits.argmax(1) == labels).sum().item()
        self.seen += len(labels)
        return f"loss {self.loss_sum / self.seen:.3f} acc {self.correct / self.seen:.3f}"


def optimiser_step(optimiser: torch.optim.Optimizer, schedule, loss: torch.Tensor) -> None:
    """Back-propagate ``loss``, update the parameters and advance the learning-rate schedule."""
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    schedule.step()


def _check_positive(**values) -> None:
    for name, value in values.items():
        if value <= 0:
            raise InvalidArgumentError(f"{name} must be positive, got {value}")


def train_classifier(
    model: nn.Module,
    train_set: Dataset,
    test_set: Dataset | None = None,
    *,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    seed: int = 0,
    augment: bool = False,
    freeze: tuple[str, ...] = (),
    progress: bool = True,
) -> list[dict]:
    """Train ``model`` in place; return one dict per epoch: ``epoch, loss, train_top1[, test_top1]``.

    ``augment`` shifts every clip by up to 4 pixels (the same shift for all
    its frames; no flips, which would change direction-dependent actions).
    ``freeze`` names submodules (e.g. ``("cnn",)``) kept fixed: their parameters
    get no updates and their batch-norm statistics stay as loaded (the paper's
    route for CNN+LSTM: features from a trained CNN, then the recurrent head).
    """
    _check_positive(epochs=epochs, lr=lr, batch_size=batch_size, training_videos=len(train_set))
    frozen = frozen_modules(model, freeze)
    generator = seed_everything(seed)
    model.to(device)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=generator)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs * len(loader))
    history = []
    with progress_bar("batches", enabled=progress) as bar:
        task = bar.add_task("training", total=epochs * len(loader))
        for epoch in range(1, epochs + 1):
            model.train()
            for module in frozen:
                module.eval()
            tally = EpochTally()
            for videos, labels in loader:
                if augment:
                    videos = shift_videos(videos, 4, generator)
                videos, labels = videos.to(device), labels.to(device)
                logits = model(videos)
                loss = F.cross_entropy(logits, labels)
                optimiser_step(optimiser, schedule, loss)
                bar.update(task, advance=1, description=f"epoch {epoch}/{epochs} " + tally.add(loss, logits, labels))
            record = {"epoch": epoch, "loss": tally.loss_sum / tally.seen, "train_top1": tally.correct / tally.seen}
            if test_set is not None:
                record["test_top1"] = evaluate_accuracy(model, test_set, batch_size, device)["top1"]
                status = f"epoch {epoch}/{epochs} loss {record['loss']:.3f} test acc {record['test_top1']:.3f}"
                bar.update(task, description=status)
            history.append(record)
    model.eval()
    return history


def frozen_modules(model: nn.Module, names: tuple[str, ...]) -> list[nn.Module]:
    """Stop gradients into the named submodules of ``model``; return them (to keep in eval mode)."""
    children = dict(model.named_modules())
    modules = []
    for name in names:
        if name not in children or name == "":
            raise InvalidArgumentError(f"cannot freeze {name!r}: {type(model).__name__} has no such submodule")
        children[name].requires_grad_(False)
        modules.append(children[name])
    if not any(p.requires_grad for p in model.parameters()):
        raise InvalidArgumentError(f"freezing {', '.join(names)} leaves nothing of the model to train")
    return modules


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module, dataset: Dataset, batch_size: int = 32, device: str | torch.device = "cpu"
) -> dict:
    """Clean top-1 accuracy: ``{"top1": float, "per_class": {class name: top1}, "n": int}``.

    Class names come from ``dataset.classes`` when present (else the label
    index); classes absent from the dataset are left out of ``per_class``.
    """
    _check_positive(batch_size=batch_size)
    was_training = model.training
    model.to(device).eval()
    hits, labels_all = [], []
    for videos, labels in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        hits.append(model(videos.to(device)).argmax(1).cpu() == labels)
        labels_all.append(labels)
    model.train(was_training)
    if not hits:
        raise InvalidArgumentError("cannot evaluate on an empty dataset")
    hits, labels_all = torch.cat(hits), torch.cat(labels_all)
    names = getattr(dataset, "classes", None)
    per_class = {}
    for label in sorted(set(labels_all.tolist())):
        name = names[label] if names is not None else str(label)
        per_class[name] = hits[labels_all == label].float().mean().item()
    return {"top1": hits.float().mean().item(), "per_class": per_class, "n": len(hits)}
