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


# --- data (deepsava.data) ---
@app.command("data")
def data_command(
    name: str = typer.Argument(..., help="synth-actions, moving-digits, ucf101 or hmdb51."),
    split: str = typer.Option("train", help="Split drawn by --preview: train or test."),
    frames: Optional[int] = typer.Option(None, help="Frames per clip (default 40; 20 for moving-digits)."),
    size: int = typer.Option(64, help="Frame height and width in pixels."),
    seed: int = typer.Option(0, help="Generation seed (for ucf101/hmdb51: the seed of random sampling)."),
    root: Optional[str] = typer.Option(None, help="UCF101/HMDB51 video folder, or a mnist_test_seq.npy file."),
    fold: Optional[int] = typer.Option(None, help="UCF101/HMDB51 official split number, 1-3 (default 1)."),
    num_classes: Optional[int] = typer.Option(None, help="synth-actions: number of classes (default 12)."),
    videos_per_class: Optional[int] = typer.Option(None, help="synth-actions: videos per class (default 50)."),
    sequences: Optional[int] = typer.Option(None, help="moving-digits: sequences per split (default 1000)."),
    precache: bool = typer.Option(False, help="UCF101/HMDB51: decode every video into the cache now."),
    preview: Optional[str] = typer.Option(None, help="Write a PNG grid of a few frames of one video per class."),
) -> None:
    """Generate or index a dataset, cache it, and print its classes and counts."""
    import time

    from rich.console import Console
    from rich.table import Table

    from deepsava.data import load_dataset
    from deepsava.data.cache import cache_root
    from deepsava.data.preview import save_preview
    from deepsava.errors import InvalidArgumentError

    if precache and name not in ("ucf101", "hmdb51"):
        raise InvalidArgumentError("--precache is for ucf101 and hmdb51 (generated datasets are cached whole)")
    if split not in ("train", "test"):
        raise InvalidArgumentError(f"--split must be train or test, got {split!r}")
    given = {"fold": fold, "num_classes": num_classes, "videos_per_class": videos_per_class, "sequences": sequences}
    options = {key: value for key, value in given.items() if value is not None}
    splits = ["test"] if name == "moving-digits" and root is not None else ["train", "test"]
    start = time.perf_counter()
    sets = {s: load_dataset(name, split=s, root=root, frames=frames, size=size, seed=seed, **options) for s in splits}
    decoded = sum(d.precache() for d in sets.values()) if precache else 0
    seconds = time.perf_counter() - start

    first = sets[splits[0]]
    table = Table(title=f"{name}: {len(first.classes)} classes")
    table.add_column("class")
    for s in splits:
        table.add_column(s, justify="right")
    for label, cls in enumerate(first.classes):
        table.add_row(cls, *(str(d.labels.count(label)) for d in sets.values()))
    table.add_row("[bold]total", *(f"[bold]{len(d)}" for d in sets.values()))
    console = Console()
    console.print(table)
    clip = first[0][0]
    source = getattr(first, "source", None) or cache_root() / "clips" / name
    console.print(f"clip shape {tuple(clip.shape)} (T, C, H, W), float32 in [0, 1]")
    console.print(f"cache: {source}")
    console.print(f"ready in {seconds:.1f} s (generation or decoding included when not cached)")
    if precache:
        console.print(f"decoded {decoded} videos into the cache")
    if preview is not None:
        console.print(f"preview: {save_preview(sets[split if split in sets else splits[0]], preview)}")


# --- train / evaluate (deepsava.train, deepsava.models) ---
def _load_split(dataset: str, split: str, frames: Optional[int], size: int, root: Optional[str]):
    from deepsava.data import load_dataset

    return load_dataset(dataset, split=split, root=root, frames=frames, size=size)


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
    frames: Optional[int] = typer.Option(None, help="Frames per clip; default: the dataset's (40, moving-digits 20)."),
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
        f" --size {size} --device {device}"
        + (f" --frames {frames}" if frames is not None else "")
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
        "frames": train_set[0][0].shape[0],
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
    data = _load_split(dataset, split, frames or meta.get("frames"), size or meta.get("size", 64), root)
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
