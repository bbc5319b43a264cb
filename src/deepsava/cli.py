"""The ``deepsava`` command line: each subcommand is a thin layer over the Python API."""

import sys
from typing import Optional

import typer

from deepsava.errors import DeepSAVAError

app = typer.Typer(
    help="Sparse adversarial attacks on video classifiers (DeepSAVA) and defences against them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for user errors.")) -> None:
    _state["debug"] = debug


# --- commands (each block owned by the module it calls) -------------------------------


# --- train / evaluate (deepsava.train, deepsava.models) ---
def _load_split(dataset: str, split: str, frames: int, size: int, root: Optional[str]):
    from deepsava.data import load_dataset

    extra = {"root": root} if root is not None else {}
    return load_dataset(dataset, split=split, frames=frames, size=size, **extra)


@app.command("train")
def train_command(
    model: str = typer.Option(..., help="Architecture: i3d, inception-v3, cnn-lstm, cnn-rnn or cnn-gru."),
    dataset: str = typer.Option(..., help="Dataset name, e.g. synth-actions (trains on train, reports test)."),
    out: str = typer.Option(..., help="Checkpoint path stem: writes OUT.safetensors and OUT.json (metadata)."),
    preset: str = typer.Option("tiny", help="tiny (small widths, trains on a CPU in minutes) or paper (full size)."),
    epochs: int = typer.Option(20, help="Passes over the training split."),
    lr: float = typer.Option(3e-3, help="Initial Adam learning rate, cosine-decayed to 0."),
    batch_size: int = typer.Option(16, help="Videos per optimisation step."),
    seed: int = typer.Option(0, help="Seed for initialisation, shuffling and augmentation."),
    augment: bool = typer.Option(False, help="Shift each training clip by up to 4 pixels."),
    frames: int = typer.Option(40, help="Frames per clip."),
    size: int = typer.Option(64, help="Frame height and width of the loaded clips (models resize inside)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto (CUDA when available)."),
    root: Optional[str] = typer.Option(None, help="Folder of an on-disk dataset (UCF101, HMDB51)."),
    weights: Optional[str] = typer.Option(None, help="Initial weights: a .safetensors or .pt state dict."),
) -> None:
    """Train a classifier on clean videos; write a checkpoint recording its clean test accuracy and this command."""
    import time

    from deepsava.models import create_model, save_checkpoint
    from deepsava.runtime import resolve_device, seed_everything
    from deepsava.train import evaluate_accuracy, train_classifier

    command = (
        f"deepsava train --model {model} --preset {preset} --dataset {dataset} --out {out} --epochs {epochs}"
        f" --lr {lr} --batch-size {batch_size} --seed {seed} --{'' if augment else 'no-'}augment"
        f" --frames {frames} --size {size} --device {device}"
        + (f" --root {root}" if root is not None else "")
        + (f" --weights {weights}" if weights is not None else "")
    )
    dev = resolve_device(device)
    train_set = _load_split(dataset, "train", frames, size, root)
    test_set = _load_split(dataset, "test", frames, size, root)
    seed_everything(seed)
    net = create_model(model, len(train_set.classes), preset, weights)
    start = time.perf_counter()
    history = train_classifier(
        net, train_set, test_set, epochs=epochs, lr=lr, batch_size=batch_size, device=dev, seed=seed, augment=augment
    )
    seconds = time.perf_counter() - start
    result = evaluate_accuracy(net, test_set, batch_size, dev)
    hyper = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "augment": augment}
    metadata = {
        "classes": list(train_set.classes),
        "dataset": dataset,
        "frames": frames,
        "size": size,
        "train_videos": len(train_set),
        "test_videos": result["n"],
        "test_top1": result["top1"],
        "test_per_class": result["per_class"],
        "training": {**hyper, "optimizer": "adam", "schedule": "cosine", "weights": weights,
                     "device": str(dev), "seconds": round(seconds, 1)},
        "history": history,
        "command": command,
    }
    stem = save_checkpoint(net, out, metadata)
    typer.echo(f"{model} ({preset}) on {dataset}: clean test top-1 {result['top1']:.3f} (n={result['n']})")
    typer.echo(f"wrote {stem}.safetensors and {stem}.json")


@app.command("evaluate")
def evaluate_command(
    checkpoint: Optional[str] = typer.Option(None, help="Checkpoint path stem (PATH.safetensors + PATH.json)."),
    model: Optional[str] = typer.Option(None, help="Evaluate the shipped tiny checkpoint of this model instead."),
    dataset: Optional[str] = typer.Option(None, help="Dataset to evaluate on; default: the checkpoint's own."),
    split: str = typer.Option("test", help="Dataset split: test or train."),
    frames: Optional[int] = typer.Option(None, help="Frames per clip; default: as in training."),
    size: Optional[int] = typer.Option(None, help="Frame size of the loaded clips; default: as in training."),
    root: Optional[str] = typer.Option(None, help="Folder of an on-disk dataset (UCF101, HMDB51)."),
    batch_size: int = typer.Option(32, help="Videos per forward pass."),
    device: str = typer.Option("auto", help="cpu, cuda or auto (CUDA when available)."),
    per_class: bool = typer.Option(False, "--per-class", help="Also print a table of per-class accuracy."),
) -> None:
    """Print a classifier's clean top-1 accuracy on a dataset split."""
    from rich.console import Console
    from rich.table import Table

    from deepsava.errors import InvalidArgumentError, InvalidCheckpointError
    from deepsava.models import load_checkpoint, load_shipped
    from deepsava.runtime import resolve_device
    from deepsava.train import evaluate_accuracy

    if (checkpoint is None) == (model is None):
        raise InvalidArgumentError("give exactly one of --checkpoint PATH or --model NAME (a shipped checkpoint)")
    dev = resolve_device(device)
    net, meta = load_checkpoint(checkpoint, dev) if checkpoint is not None else load_shipped(model, dev)
    dataset = dataset or meta.get("dataset")
    if dataset is None:
        raise InvalidArgumentError("the checkpoint does not record its dataset: pass --dataset")
    data = _load_split(dataset, split, frames or meta.get("frames", 40), size or meta.get("size", 64), root)
    classes = list(data.classes)
    if meta.get("classes", classes) != classes or len(classes) != net.num_classes:
        raise InvalidCheckpointError(
            f"checkpoint classes {meta.get('classes', net.num_classes)} do not match {dataset}'s {classes}"
        )
    result = evaluate_accuracy(net, data, batch_size, dev)
    console = Console()
    console.print(f"{net.name} ({net.preset}) on {dataset} {split}: clean top-1 {result['top1']:.3f} (n={result['n']})")
    if per_class:
        table = Table("class", "top-1")
        for name, acc in result["per_class"].items():
            table.add_row(name, f"{acc:.3f}")
        console.print(table)


def run() -> None:
    """Entry point: user errors become one line on stderr and a documented exit code."""
    try:
        app(standalone_mode=False)
    except DeepSAVAError as err:
        if _state["debug"]:
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
