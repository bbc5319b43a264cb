"""The ``train``, ``evaluate`` and ``train-predictor`` jobs: load the splits, train or measure, write the checkpoint."""

import time
from dataclasses import dataclass

import torch

from deepsava.data import load_dataset
from deepsava.data.moving_digits import prediction_split
from deepsava.errors import InvalidArgumentError, InvalidCheckpointError
from deepsava.models import create_model, load_checkpoint, needed_frames, save_checkpoint
from deepsava.models.checkpoint import checkpoint_stem, refuse_overwrite, starting_weights
from deepsava.models.convlstm import NextFramePredictor, save_predictor
from deepsava.runtime import resolve_device, seed_everything
from deepsava.train.classifier import evaluate_accuracy, train_classifier
from deepsava.train.predictor import evaluate_prediction, train_predictor


def train_job(model: str, dataset: str, out: str, *, preset: str = "tiny", epochs: int = 30, lr: float = 1e-3,
              batch_size: int = 8, seed: int = 0, augment: bool = False, frames: int | None = None, size: int = 64,
              device: str = "auto", root: str | None = None, weights: str | None = None, freeze_cnn: bool = False,
              force: bool = False, progress: bool = True, command: str = "") -> tuple[dict, str]:
    """Train ``model`` on the train split of ``dataset``, measure it on test, write ``out``; return (metadata, stem)."""
    if freeze_cnn and weights is None:
        raise InvalidArgumentError("--freeze-cnn keeps the CNN of --weights fixed: give --weights too")
    frames = frames or needed_frames(model, preset=preset)  # checks the spec before any data is loaded; None: any
    refuse_overwrite(out, force)
    weights_path, start_meta = starting_weights(weights)
    dev = resolve_device(device)
    train_set = load_dataset(dataset, split="train", root=root, frames=frames, size=size)
    test_set = load_dataset(dataset, split="test", root=root, frames=frames, size=size)
    seed_everything(seed)
    net = create_model(model, len(train_set.classes), preset, weights_path, fine_tune=True)
    start = time.perf_counter()
    history = train_classifier(net, train_set, test_set, epochs=epochs, lr=lr, batch_size=batch_size, device=dev,
                               seed=seed, augment=augment, freeze=("cnn",) if freeze_cnn else (), progress=progress)
    seconds = time.perf_counter() - start
    result = evaluate_accuracy(net, test_set, batch_size, dev)
    metadata = {
        "classes": list(train_set.classes), "dataset": dataset, "frames": train_set[0][0].shape[0], "size": size,
        "train_videos": len(train_set), "test_videos": result["n"], "test_top1": result["top1"],
        "test_per_class": result["per_class"],
        "training": {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "augment": augment,
                     "frozen": ["cnn"] if freeze_cnn else [], "optimizer": "adam", "schedule": "cosine",
                     "weights": weights, "device": str(dev), "threads": torch.get_num_threads(),
                     "seconds": round(seconds, 1)},
        "start": {"weights": weights, "model": start_meta.get("model"), "defence": start_meta.get("defence"),
                  "test_top1": start_meta.get("test_top1")},  # as `defend` records it (Table 11 reads the defence)
        "history": history,
        "command": command,
    }
    return metadata, str(save_checkpoint(net, out, metadata))


@dataclass
class Evaluation:
    model: torch.nn.Module
    dataset: str
    split: str
    result: dict  # evaluate_accuracy's: top1, per_class, n


def evaluate_job(checkpoint: str | None, model: str | None, dataset: str | None = None, split: str = "test",
                 frames: int | None = None, size: int | None = None, root: str | None = None, batch_size: int = 32,
                 device: str = "auto", weights: str | None = None, preset: str = "paper") -> Evaluation:
    """Clean accuracy of a checkpoint (a path stem or ``shipped:NAME``), the shipped ``model``, or ``model`` (any
    spec) with ``weights`` (an ``hf:`` folder holds its own) on ``dataset``, whose classes it must have."""
    if (checkpoint is None) == (model is None):
        raise InvalidArgumentError("give exactly one of --checkpoint PATH or --model NAME (a shipped checkpoint, or a"
                                   " spec with --weights)")
    dev = resolve_device(device)
    if weights is None and not (model or "").startswith("hf:"):
        net, meta = load_checkpoint(checkpoint_stem(checkpoint or f"shipped:{model.removeprefix('shipped:')}"), dev)
        dataset = dataset or meta.get("dataset")
        if dataset is None:
            raise InvalidArgumentError("the checkpoint does not record its dataset: pass --dataset")
        data = load_dataset(dataset, split=split, root=root, frames=meta.get("frames") if frames is None else frames,
                            size=meta.get("size", 64) if size is None else size)
    else:
        if dataset is None:
            raise InvalidArgumentError(f"--model {model}: name the --dataset it is evaluated on")
        data = load_dataset(dataset, split=split, root=root, frames=frames or needed_frames(model, preset=preset),
                            size=size or 64)
        net = create_model(model, len(data.classes), preset, weights).to(dev)
        meta = {"classes": net.classes or None}
    classes = list(data.classes)
    if (meta.get("classes") or classes) != classes or len(classes) != net.num_classes:
        raise InvalidCheckpointError(
            f"the model's classes {meta.get('classes') or net.num_classes} do not match {dataset}'s {classes}")
    return Evaluation(net, dataset, split, evaluate_accuracy(net, data, batch_size, dev))


def train_predictor_job(out: str, *, moving_mnist: str | None = None, sequences: int = 1000, epochs: int = 12,
                        lr: float = 2e-3, batch_size: int = 16, hidden: int = 32, seed: int = 0, device: str = "auto",
                        force: bool = False, command: str = "") -> tuple[dict, str]:
    """Train the ConvLSTM next-frame predictor; write ``out``; return (metadata, stem)."""
    refuse_overwrite(out, force)
    dev = resolve_device(device)
    train_set = prediction_split("train", moving_mnist, sequences, seed)
    test_set = prediction_split("test", moving_mnist, max(sequences // 5, 1), seed)
    seed_everything(seed)
    net = NextFramePredictor(channels=train_set[0][0].shape[1], hidden=hidden)
    start = time.perf_counter()
    history = train_predictor(net, train_set, test_set, epochs=epochs, lr=lr, batch_size=batch_size, device=dev,
                              seed=seed)
    seconds = time.perf_counter() - start
    metadata = {"dataset": "mnist_test_seq.npy" if moving_mnist else "moving-digits",
                "frames": train_set[0][0].shape[0], "train_sequences": len(train_set),
                "test_sequences": len(test_set), "test_mse": evaluate_prediction(net, test_set, device=dev),
                "test_mse_repeat_last_frame": evaluate_prediction(torch.nn.Identity(), test_set, device=dev),
                "training": {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "optimizer": "adam",
                             "schedule": "cosine", "device": str(dev), "threads": torch.get_num_threads(),
                             "seconds": round(seconds, 1)},
                "history": history, "command": command}
    return metadata, str(save_predictor(net, out, metadata))
