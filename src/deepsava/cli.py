"""The ``deepsava`` command line: each subcommand is a thin layer over the Python API."""

import logging
import sqlite3
import sys
from typing import Optional

import typer

from deepsava.errors import EXIT_CODES, FILE_SYSTEM_EXIT_CODE, DeepSAVAError

app = typer.Typer(
    help="Sparse adversarial attacks on video classifiers (DeepSAVA) and defences against them.",
    epilog="Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + ".",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


class _EchoHandler(logging.Handler):
    """deepsava's log lines (e.g. a head replaced for fine-tuning), one per line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(self.format(record), err=True)


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for user errors.")) -> None:
    _state["debug"] = debug
    log = logging.getLogger("deepsava")
    if not any(isinstance(h, _EchoHandler) for h in log.handlers):
        log.addHandler(_EchoHandler())
        log.setLevel(logging.INFO)


def _console():
    """A rich console; 150 columns when the output is not a terminal, so that logged table rows stay whole."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=150)


def _at_least_one(**options) -> None:
    """Raise InvalidArgumentError for the first integer option (``--name``) below 1; None values are skipped."""
    from deepsava.errors import InvalidArgumentError

    for name, value in options.items():
        if value is not None and value < 1:
            raise InvalidArgumentError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


# --- commands (each block owned by the module it calls) -------------------------------


# --- report (deepsava.evaluate.report) ---
@app.command("report")
def report_command(
    run_dir: str = typer.Argument(..., help="Run folder of `deepsava experiment` (results.sqlite) or `deepsava attack --out`."),
    out: Optional[str] = typer.Option(None, help="Folder for report.md, report.html, figures/ and videos/; default RUN_DIR/report."),
    videos: int = typer.Option(3, help="Example videos drawn as Figure-8-style strips (0: none)."),
    mp4: bool = typer.Option(True, help="Write each example as an H.264 mp4, original next to adversarial."),
) -> None:
    """Write a Markdown report and one self-contained HTML page: the paper's tables, plots, example strips and videos."""
    import warnings

    from deepsava.evaluate.report import write_report

    warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated")
    outcome = write_report(run_dir, out=out, videos=videos, mp4=mp4)
    if outcome.partial:
        typer.echo("partial run: some cells hold fewer results than planned (marked in the report)")
    typer.echo(f"tables: {len(outcome.tables)}, plots: {len(outcome.plots)}, example videos: {outcome.examples}")
    typer.echo(f"markdown: {outcome.markdown}")
    typer.echo(f"html: {outcome.html}")


# --- experiment (deepsava.evaluate.runner) ---
@app.command("experiment")
def experiment_command(
    config: str = typer.Argument(..., help="Experiment YAML, e.g. configs/table3.yaml."),
    out: Optional[str] = typer.Option(None, help="Run folder (results.sqlite, summary.json); default runs/<name>."),
    limit: Optional[int] = typer.Option(None, help="Attack at most this many videos per cell and repeat."),
    device: str = typer.Option("auto", help="cpu, cuda or auto (CUDA when available)."),
    force: bool = typer.Option(False, "--force", help="Discard this config's stored results and run them again."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Run every cell of an experiment, resumably; print the per-cell summary (FR ± 99% CI, ANI, AAP, ASP, ...)."""
    import warnings
    from pathlib import Path


    from deepsava.evaluate.runner import run_experiment, summary_table

    warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated")  # raised by gpytorch's import
    console = _console()
    outcome = run_experiment(config, out=out, limit=limit, device=device, force=force, progress=progress,
                             console=console)
    console.print(summary_table(outcome.summary, title=f"{Path(config).stem}: {outcome.store_path}"))
    if outcome.interrupted:
        console.print(f"interrupted: {outcome.videos_done}/{outcome.videos_total} videos stored in {outcome.store_path}")
        console.print(f"resume with: {outcome.resume_command}")
        raise typer.Exit(130)
    console.print(f"{outcome.videos_done}/{outcome.videos_total} videos done ({outcome.batches_run} batches run now);"
                  f" results in {outcome.store_path}")


# --- demo (deepsava.demo) ---
@app.command("demo")
def demo_command(
    videos: int = typer.Option(20, help="Test videos attacked per model and method."),
    out: str = typer.Option("runs/demo", help="Folder for the demo's results and report (resumed if it exists)."),
    seed: int = typer.Option(0, help="Seed of the video choice and of BO."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, help="Discard the demo's stored results and run it again."),
    steps: int = typer.Option(100, min=1, help="Attack iterations per video (the paper's 100; fewer for a quick look)."),
) -> None:
    """The main job on the embedded default: shipped tiny models, clean accuracy, a reduced Table 3, the report."""
    from pathlib import Path

    from deepsava.demo import run_demo
    from deepsava.errors import InvalidArgumentError
    from deepsava.runtime import seed_everything

    _at_least_one(videos=videos)
    if not 0 <= seed < 2**32:
        raise InvalidArgumentError(f"--seed must lie in [0, 2**32 - 1], got {seed}")
    seed_everything(seed)
    if run_demo(videos, device, Path(out), seed, force, console=_console(), steps=steps) is None:
        raise typer.Exit(130)  # interrupted: it said how to resume


# --- attack (deepsava.attacks, deepsava.evaluate.attack_job) ---
def load_classifier(model: Optional[str], checkpoint: Optional[str], weights: Optional[str], preset: str,
                    num_classes: Optional[int], device):
    """The model a command attacks: a checkpoint, user weights, or the shipped tiny checkpoint of --model."""
    from deepsava.errors import InvalidArgumentError
    from deepsava.models import create_model, load_checkpoint, load_shipped

    if checkpoint is not None:
        return load_checkpoint(checkpoint, device)[0]
    if model is None:
        raise InvalidArgumentError("name a --model (its shipped tiny checkpoint) or give --checkpoint PATH")
    if weights is not None:
        if num_classes is None:
            raise InvalidArgumentError("--weights needs the class count: use --dataset or --num-classes")
        return create_model(model, num_classes, preset, weights=weights).to(device).eval()
    return load_shipped(model, device)[0]


@app.command("attack")
def attack_command(
    model: Optional[str] = typer.Option(None, help="i3d, inception-v3, cnn-lstm, ...: the shipped tiny checkpoint unless --checkpoint/--weights."),
    checkpoint: Optional[str] = typer.Option(None, help="Checkpoint stem written by `deepsava train` (PATH.safetensors + PATH.json)."),
    weights: Optional[str] = typer.Option(None, help="State-dict file (.safetensors or .pt) for --model built with --preset."),
    preset: str = typer.Option("paper", help="Architecture size with --weights: paper or tiny."),
    num_classes: Optional[int] = typer.Option(None, help="Class count of --weights when no --dataset gives it."),
    dataset: str = typer.Option("synth-actions", help="Dataset attacked (its test split): synth-actions, ucf101, hmdb51."),
    root: Optional[str] = typer.Option(None, help="UCF101/HMDB51 video folder."),
    split: str = typer.Option("test", help="Split attacked: test or train."),
    video: Optional[str] = typer.Option(None, help="Attack one video file instead of a dataset."),
    label: Optional[int] = typer.Option(None, help="True class of --video (default: the model's clean prediction)."),
    frames_per_video: int = typer.Option(40, "--length", help="Frames sampled per video (the paper: 40)."),
    size: int = typer.Option(64, help="Frame size of the loaded clips (models resize inside)."),
    frames: int = typer.Option(1, help="Number of frames perturbed (k)."),
    selector: str = typer.Option("bo", help="Key-frame selector: bo, first, random, brute, saliency, anneal, genetic."),
    mode: str = typer.Option("combined", help="Perturbation: combined (D+S), additive (D) or spatial (S)."),
    lam: Optional[float] = typer.Option(None, help="SSIM weight lambda (default: the paper's per model, 1.5 CNN+LSTM, else 1.0)."),
    steps: Optional[int] = typer.Option(None, help="Iteration limit (default 100; 500 with a budget)."),
    lr: float = typer.Option(0.01, help="Adam learning rate of noise and flow."),
    flow_lr: Optional[float] = typer.Option(None, help="Separate learning rate of the flow (pixels per step)."),
    ssim_budget: Optional[float] = typer.Option(None, help="Lowest SSIM allowed for a perturbed frame, in (0, 1]."),
    l21_budget: Optional[float] = typer.Option(None, help="Largest l2,1 norm of a video's perturbation."),
    limit: Optional[int] = typer.Option(None, help="Attack only N videos, drawn at random with --seed."),
    batch_size: int = typer.Option(8, help="Videos attacked together (each stops on its own)."),
    seed: int = typer.Option(0, help="Seed of video choice and of random/BO frame selection."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    precision: str = typer.Option("fp32", help="fp32, or bf16: the model runs under bfloat16 autocast (SSIM, the"
                                  " perturbation and the optimiser stay float32)."),
    out: Optional[str] = typer.Option(None, help="Folder for records.jsonl, summary.json and the adversarial videos;"
                                      " the same command run again resumes after the last finished batch."),
    save_videos: bool = typer.Option(True, help="With --out: write each adversarial video losslessly (FFV1 .mkv)."),
    force: bool = typer.Option(False, help="Replace the results of an earlier run with other settings in --out."),
) -> None:
    """Attack a model with DeepSAVA; print FR, ANI, mean SSIM, mean l2,1 and time per video."""
    import torch
    from rich.table import Table

    from deepsava.attacks import DeepSAVA
    from deepsava.data import VideoDataset, load_dataset
    from deepsava.errors import InvalidArgumentError, InvalidCheckpointError
    from deepsava.evaluate.attack_job import attack_dataset, choose_videos, digest, prepare_output
    from deepsava.evaluate.metrics import summarize
    from deepsava.io import load_video
    from deepsava.runtime import resolve_device, seed_everything

    if precision not in ("fp32", "bf16"):
        raise InvalidArgumentError(f"unknown precision {precision!r}: use fp32 or bf16")
    _at_least_one(length=frames_per_video, size=size, limit=limit, batch_size=batch_size)
    settings = {"frames": frames, "selector": selector, "mode": mode, "lam": lam, "steps": steps, "lr": lr,
                "flow_lr": flow_lr, "ssim_budget": ssim_budget, "l21_budget": l21_budget, "seed": seed}
    DeepSAVA(None, **settings)  # the attack's own checks, before any data or model is loaded
    dev = resolve_device(device)
    seed_everything(seed)
    if video is not None:
        clip = load_video(video, frames=frames_per_video, size=size)
        data = None
    else:
        data = load_dataset(dataset, split=split, root=root, frames=frames_per_video, size=size)
        num_classes = len(data.classes)
    net = load_classifier(model, checkpoint, weights, preset, num_classes, dev)
    if data is not None and net.num_classes != len(data.classes):
        raise InvalidCheckpointError(f"the model has {net.num_classes} classes but {dataset} has {len(data.classes)}:"
                                     " attack a model trained on this dataset")
    if data is None:
        if label is None:
            with torch.no_grad():
                label = int(net(clip[None].to(dev)).argmax())

        class OneVideo(VideoDataset):
            def __getitem__(self, i):
                return clip, label

        data = OneVideo([str(c) for c in range(net.num_classes)], [video], [label])
    attack = DeepSAVA(net, **settings)
    indices = choose_videos(len(data), limit, seed)
    folder = None
    if out is not None:  # what makes a re-run the same run (resumed) rather than another one (refused)
        identity = {"model": digest(*net.state_dict().values()), "data": [dataset, split, root, frames_per_video, size],
                    "video": digest(clip) if video is not None else None, "label": label,
                    "videos": [data.video_ids[i] for i in indices], "attack": attack.params(),
                    "batch_size": batch_size, "device": str(dev), "precision": precision, "save_videos": save_videos}
        folder = prepare_output(out, force, identity)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        records = attack_dataset(attack, data, indices, batch_size, dev, folder, save_videos)
    s = summarize(records)
    table = Table(title=f"DeepSAVA ({mode}, {frames} frame(s), selector {selector}) on {getattr(net, 'name', model)}")
    for column in ("videos", "attacked", "FR", "ANI", "SSIM", "l2,1", "s / attacked video"):
        table.add_column(column, justify="right")
    table.add_row(str(s["videos"]), str(s["attacked"]), f"{s['fooling_rate']:.1%}", f"{s['ani']:.2f}", f"{s['ssim']:.4f}",
                  f"{s['l21']:.4f}", f"{s['seconds_per_video']:.2f}")
    console = _console()
    console.print(table)
    if s["skipped_misclassified"]:
        console.print(f"{s['skipped_misclassified']} video(s) misclassified before the attack were not attacked (not counted).")
    if folder is not None:
        console.print(f"records and summary in {folder}")


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
    console = _console()
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
    epochs: int = typer.Option(30, help="Passes over the training split."),
    lr: float = typer.Option(1e-3, help="Initial Adam learning rate, cosine-decayed to 0."),
    batch_size: int = typer.Option(8, help="Videos per optimisation step."),
    seed: int = typer.Option(0, help="Seed for initialisation, shuffling and augmentation."),
    augment: bool = typer.Option(False, help="Shift each training clip by up to 4 pixels."),
    frames: Optional[int] = typer.Option(None, help="Frames per clip; default: the dataset's (40, moving-digits 20)."),
    size: int = typer.Option(64, help="Frame height and width of the loaded clips (models resize inside)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto (CUDA when available)."),
    root: Optional[str] = typer.Option(None, help="Folder of an on-disk dataset (UCF101, HMDB51)."),
    weights: Optional[str] = typer.Option(None, help="Initial weights: a .safetensors or .pt state dict, a checkpoint"
                                          " stem or shipped:NAME."),
    freeze_cnn: bool = typer.Option(False, "--freeze-cnn", help="Keep the frame CNN of --weights fixed and train only"
                                    " what follows it (the paper's CNN+LSTM route: e.g. --model cnn-lstm --weights"
                                    " shipped:inception-v3-pgd)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing checkpoint at --out."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Train a classifier on clean videos; write a checkpoint recording its clean test accuracy and this command."""
    import time

    import torch

    from deepsava.errors import InvalidArgumentError
    from deepsava.models import create_model, save_checkpoint
    from deepsava.models.checkpoint import refuse_overwrite, starting_weights
    from deepsava.models.registry import MODELS
    from deepsava.runtime import resolve_device, seed_everything
    from deepsava.train import evaluate_accuracy, train_classifier

    command = (
        f"deepsava train --model {model} --preset {preset} --dataset {dataset} --out {out} --epochs {epochs}"
        f" --lr {lr} --batch-size {batch_size} --seed {seed} --{'' if augment else 'no-'}augment"
        f" --size {size} --device {device}"
        + (f" --frames {frames}" if frames is not None else "")
        + (f" --root {root}" if root is not None else "")
        + (f" --weights {weights}" if weights is not None else "")
        + (" --freeze-cnn" if freeze_cnn else "")
    )
    if freeze_cnn and weights is None:
        raise InvalidArgumentError("--freeze-cnn keeps the CNN of --weights fixed: give --weights too")
    if model not in MODELS:  # before the dataset is loaded
        raise InvalidArgumentError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    refuse_overwrite(out, force)
    weights_path, start_meta = starting_weights(weights)
    dev = resolve_device(device)
    train_set = _load_split(dataset, "train", frames, size, root)
    test_set = _load_split(dataset, "test", frames, size, root)
    seed_everything(seed)
    net = create_model(model, len(train_set.classes), preset, weights_path, fine_tune=True)
    start = time.perf_counter()
    history = train_classifier(
        net, train_set, test_set, epochs=epochs, lr=lr, batch_size=batch_size, device=dev, seed=seed, augment=augment,
        freeze=("cnn",) if freeze_cnn else (), progress=progress,
    )
    seconds = time.perf_counter() - start
    result = evaluate_accuracy(net, test_set, batch_size, dev)
    hyper = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "augment": augment,
             "frozen": ["cnn"] if freeze_cnn else []}
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
                     "device": str(dev), "threads": torch.get_num_threads(), "seconds": round(seconds, 1)},
        "start": {"weights": weights, "model": start_meta.get("model"), "defence": start_meta.get("defence"),
                  "test_top1": start_meta.get("test_top1")},  # as `defend` records it (Table 11 reads the defence)
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
    data = _load_split(dataset, split, meta.get("frames") if frames is None else frames,
                       meta.get("size", 64) if size is None else size, root)
    classes = list(data.classes)
    if meta.get("classes", classes) != classes or len(classes) != net.num_classes:
        raise InvalidCheckpointError(
            f"checkpoint classes {meta.get('classes', net.num_classes)} do not match {dataset}'s {classes}"
        )
    result = evaluate_accuracy(net, data, batch_size, dev)
    console = _console()
    console.print(f"{net.name} ({net.preset}) on {dataset} {split}: clean top-1 {result['top1']:.3f} (n={result['n']})")
    if per_class:
        table = Table("class", "top-1")
        for name, acc in result["per_class"].items():
            table.add_row(name, f"{acc:.3f}")
        console.print(table)


# --- defend (deepsava.defend) ---
def _fraction(option: str, text: Optional[str]) -> Optional[float]:
    """A number written as 0.0314 or 8/255."""
    from deepsava.errors import InvalidArgumentError

    if text is None:
        return None
    try:
        top, _, bottom = text.partition("/")
        return float(top) / float(bottom) if bottom else float(top)
    except (ValueError, ZeroDivisionError):
        raise InvalidArgumentError(f"{option} must be a number such as 0.03 or 8/255, got {text!r}") from None


@app.command("defend")
def defend_command(
    ctx: typer.Context,
    method: str = typer.Option(..., help="none (plain training: the undefended comparison), inject (DeepSAVA videos"
                               " added to the training set, Table 10), pgd (Algorithm 3), combined (Algorithm 4:"
                               " flow + noise) or trades."),
    model: str = typer.Option(..., help="Architecture: i3d, inception-v3, cnn-lstm, cnn-rnn or cnn-gru."),
    dataset: str = typer.Option(..., help="Dataset: trains on its train split, reports clean accuracy on test."),
    out: str = typer.Option(..., help="Checkpoint stem: writes OUT.safetensors + OUT.json; OUT.state.safetensors"
                            " after every epoch, from which the same command resumes after an interruption."),
    weights: Optional[str] = typer.Option(None, help="Start from these weights (fine-tuning): a checkpoint stem,"
                                          " a weights file or shipped:NAME. Default: random initialisation."),
    preset: str = typer.Option("tiny", help="tiny or paper (full size)."),
    epochs: int = typer.Option(5, help="Passes over the training split."),
    lr: float = typer.Option(1e-4, help="Initial Adam learning rate, cosine-decayed to 0."),
    batch_size: int = typer.Option(8, help="Videos per step over all processes (split evenly under torchrun)."),
    seed: int = typer.Option(0, help="Seed of shuffling, random starts and random frames."),
    eps: Optional[str] = typer.Option(None, help="pgd/combined/trades: l-inf radius of the noise, e.g. 8/255 (default)."),
    alpha: Optional[str] = typer.Option(None, help="pgd/combined/trades: step size, e.g. 2/255 (default pgd/combined 1/255,"
                                        " the paper's; trades 0.007, Zhang et al.'s)."),
    steps: Optional[int] = typer.Option(None, help="pgd/combined/trades: inner steps K per batch (default 10);"
                                        " inject: DeepSAVA's iterations (default 100)."),
    attack_frames: Optional[int] = typer.Option(None, help="Frames perturbed per video: pgd/combined/trades default"
                                                " all; inject default 1."),
    mask: Optional[str] = typer.Option(None, help="pgd/combined/trades with --attack-frames: first (default) or"
                                       " random frames."),
    flow_eps: Optional[float] = typer.Option(None, help="combined: largest flow displacement in pixels (default 1)."),
    flow_alpha: Optional[float] = typer.Option(None, help="combined: flow step in pixels (default 0.1; 0: random"
                                               " flow, never optimised)."),
    beta: Optional[float] = typer.Option(None, help="trades: weight of the KL term (default 6)."),
    examples: Optional[int] = typer.Option(None, help="inject: N videos of the train split attacked and added."),
    unmodified: bool = typer.Option(False, "--unmodified", help="inject: add the N videos unmodified instead (the"
                                    " paper's undefended comparison)."),
    selector: Optional[str] = typer.Option(None, help="inject: DeepSAVA's frame selector (default first)."),
    freeze_cnn: bool = typer.Option(False, "--freeze-cnn", help="Keep the frame CNN of --weights fixed (the paper's"
                                    " CNN+LSTM route: --model cnn-lstm --weights a defended inception-v3)."),
    freeze_bn: bool = typer.Option(False, "--freeze-bn", help="Keep batch-norm statistics as loaded (fine-tuning);"
                                   " makes a step independent of how its batch is split over processes (README:"
                                   " the exceptions)."),
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Share batch-norm statistics across GPUs (SyncBatchNorm)."),
    frames: Optional[int] = typer.Option(None, help="Frames per clip; default the dataset's (40)."),
    size: int = typer.Option(64, help="Frame height and width of the loaded clips."),
    root: Optional[str] = typer.Option(None, help="Folder of an on-disk dataset (UCF101, HMDB51)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto; under torchrun each process takes its LOCAL_RANK GPU."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT and discard an interrupted run's state."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Train a classifier with a defence (adversarial training); write a checkpoint recording the method.

    Alone: `deepsava defend --method pgd --model inception-v3 --weights shipped:inception-v3 --dataset
    synth-actions --out ckpt/inc-pgd`. On N GPUs or CPU processes: `torchrun --nproc_per_node N -m deepsava
    defend ...` (same options; --batch-size stays the global batch; only rank 0 touches --out). Killed or
    interrupted, the same command resumes from the last finished epoch.
    """
    from deepsava.defend.job import run_defend
    from deepsava.defend.state import state_file
    from deepsava.errors import InvalidArgumentError

    given = {"eps": _fraction("--eps", eps), "alpha": _fraction("--alpha", alpha), "steps": steps,
             "frames": attack_frames, "mask": mask, "flow_eps": flow_eps, "flow_alpha": flow_alpha, "beta": beta,
             "examples": examples, "selector": selector, "unmodified": unmodified or None}
    accepted = {"none": (), "inject": ("examples", "unmodified", "frames", "selector", "steps"),
                "pgd": ("eps", "alpha", "steps", "frames", "mask"),
                "combined": ("eps", "alpha", "steps", "frames", "mask", "flow_eps", "flow_alpha"),
                "trades": ("eps", "alpha", "steps", "frames", "mask", "beta")}
    if method not in accepted:
        raise InvalidArgumentError(f"unknown --method {method!r}: use one of {', '.join(accepted)}")
    names = {"frames": "attack-frames"}
    wrong = [k for k, v in given.items() if v is not None and k not in accepted[method]]
    if wrong:
        shown = ", ".join("--" + names.get(k, k).replace("_", "-") for k in wrong)
        raise InvalidArgumentError(f"{shown} do(es) not apply to --method {method}")
    if method == "inject" and examples is None:
        raise InvalidArgumentError("--method inject needs --examples N (videos of the train split to attack and add)")
    params = {k: v for k, v in given.items() if v is not None}
    options = ctx.params
    command = " ".join(["deepsava defend"] + [
        f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
        for k, v in options.items() if v is not None and v is not False and k != "progress"])
    if state_file(out).is_file() and not force:
        typer.echo(f"resuming the interrupted run from {state_file(out)}")
    meta = run_defend(method, params, model=model, dataset=dataset, out=out, preset=preset, weights=weights,
                      freeze_cnn=freeze_cnn, freeze_bn=freeze_bn, sync_bn=sync_bn, epochs=epochs, lr=lr,
                      batch_size=batch_size, seed=seed, frames=frames, size=size, root=root, device=device,
                      force=force, progress=progress, command=command)
    if meta is not None:
        typer.echo(f"{model} ({preset}) defended with {method} on {dataset}: clean test top-1"
                   f" {meta.get('test_top1', float('nan')):.3f}")
        typer.echo(f"wrote {out}.safetensors and {out}.json")

# --- transfer / compress-eval (deepsava.evaluate.transfer, deepsava.evaluate.compression, via the runner) ---
_ANALYSIS_OUT = typer.Option(None, help="Run folder (results.sqlite); default runs/<name>.")
_ANALYSIS_LIMIT = typer.Option(None, help="Attack at most this many videos per cell and repeat.")
_ANALYSIS_DEVICE = typer.Option("auto", help="cpu, cuda or auto.")
_ANALYSIS_FORCE = typer.Option(False, "--force", help="Discard this config's stored results and run them again.")
_ANALYSIS_PROGRESS = typer.Option(True, help="Show a progress bar.")


def _run_analysis(config_path: str, out, limit, device, force, progress, needs: str):
    """Run an experiment config that names ``needs`` (transfer or compression); return (config, outcome, console)."""
    import warnings


    from deepsava.errors import InvalidConfigError
    from deepsava.evaluate.config import load_config
    from deepsava.evaluate.runner import run_experiment

    warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated")  # raised by gpytorch's import
    config = load_config(config_path)
    if not getattr(config, needs):
        what, example = ("target models", "table12") if needs == "transfer" else ("H.264 CRFs", "compression")
        raise InvalidConfigError(f"{config_path} names no {needs}: list the {what} under a top-level"
                                 f" '{needs}:' key (see configs/{example}.yaml)")
    console = _console()
    outcome = run_experiment(config, out=out, limit=limit, device=device, force=force, progress=progress,
                             console=console)
    return config, outcome, console


def _finish_analysis(outcome, console) -> None:
    if outcome.interrupted:
        console.print(f"interrupted: {outcome.videos_done}/{outcome.videos_total} videos stored in {outcome.store_path}")
        console.print(f"resume with the same command; report: deepsava report {outcome.out}")
        raise typer.Exit(130)
    console.print(f"results in {outcome.store_path}; tables and plots: deepsava report {outcome.out}")


@app.command("transfer")
def transfer_command(
    config: str = typer.Argument(..., help="Experiment YAML with a 'transfer:' list of target models, e.g."
                                 " configs/table12.yaml."),
    out: Optional[str] = _ANALYSIS_OUT,
    limit: Optional[int] = _ANALYSIS_LIMIT,
    device: str = _ANALYSIS_DEVICE,
    force: bool = _ANALYSIS_FORCE,
    progress: bool = _ANALYSIS_PROGRESS,
) -> None:
    """Transferability (paper Table 12): attack every source model, classify the adversarial videos with every target.

    Resumable like `deepsava experiment`. Prints, per attack, the source x target fooling-rate matrix over videos
    both models classify correctly (its diagonal is the white-box FR) and the paper's rate among white-box successes.
    """
    from rich.table import Table

    from deepsava.evaluate.analysis_report import TRANSFER_RATES, share
    from deepsava.evaluate.store import ResultStore
    from deepsava.evaluate.transfer import transfer_matrix

    cfg, outcome, console = _run_analysis(config, out, limit, device, force, progress, "transfer")
    with ResultStore(outcome.store_path) as store:
        cells = [(row["model"], row["label"], store.records(row["cell_key"])) for row in outcome.summary]
    matrix = transfer_matrix(cells, cfg.transfer, None)
    for rate, (k, n), _, title in TRANSFER_RATES:
        for attack, rows in matrix.items():
            table = Table(title=f"{attack}: {title} (rows: source, columns: target; FR and k/n)")
            table.add_column("source")
            for target in cfg.transfer:
                table.add_column(target, justify="right")
            for source, values in rows.items():
                table.add_row(source, *(share(v[rate], v[k], v[n]) for v in values.values()))
            console.print(table)
    _finish_analysis(outcome, console)


@app.command("compress-eval")
def compress_eval_command(
    config: str = typer.Argument(..., help="Experiment YAML with a 'compression:' list of CRFs, e.g."
                                 " configs/compression.yaml."),
    out: Optional[str] = _ANALYSIS_OUT,
    limit: Optional[int] = _ANALYSIS_LIMIT,
    device: str = _ANALYSIS_DEVICE,
    force: bool = _ANALYSIS_FORCE,
    progress: bool = _ANALYSIS_PROGRESS,
) -> None:
    """Compression survival (paper Section 4.2.3): the fooling rate left after H.264 re-encoding at each CRF.

    Every adversarial video (and its clean original) is written as H.264 at each CRF, decoded and classified
    again; the fooling rate is recomputed from the decoded frames. Resumable like `deepsava experiment`.
    """
    from rich.table import Table

    from deepsava.evaluate.analysis_report import compression_tables
    from deepsava.evaluate.report import load_run

    _, outcome, console = _run_analysis(config, out, limit, device, force, progress, "compression")
    for shown in compression_tables(load_run(outcome.out)):
        table = Table(title=shown.title, caption=shown.caption)
        for j, name in enumerate(shown.columns):
            table.add_column(name, justify="left" if j < shown.text_columns else "right")
        for row in shown.rows:
            table.add_row(*row)
        console.print(table)
    _finish_analysis(outcome, console)


# --- saliency (deepsava.evaluate.saliency) ---
def _load_model_spec(spec: str, device):
    """A shipped checkpoint (``inception-v3``, ``shipped:inception-v3-pgd``) or a checkpoint path stem -> (model, name)."""
    from pathlib import Path

    from deepsava.models import load_checkpoint
    from deepsava.models.checkpoint import DEFENDED, SHIPPED, checkpoint_stem

    name = spec.removeprefix("shipped:")
    if spec.startswith("shipped:") or name in SHIPPED + DEFENDED:
        return load_checkpoint(checkpoint_stem("shipped:" + name), device)[0], name
    return load_checkpoint(spec, device)[0], str(Path(spec).with_suffix(""))


@app.command("saliency")
def saliency_command(
    model: list[str] = typer.Option(..., "--model", help="A shipped model name or a checkpoint path stem; repeat it"
                                    " to compare models side by side (e.g. undefended and defended, Figure D.10)."),
    video: Optional[str] = typer.Option(None, help="A video file (else test video --index of --dataset)."),
    index: int = typer.Option(0, help="Which test video of --dataset to draw when no --video is given."),
    dataset: str = typer.Option("synth-actions", help="Dataset of --index (its test split)."),
    root: Optional[str] = typer.Option(None, help="UCF101/HMDB51 video folder for --dataset."),
    label: Optional[int] = typer.Option(None, help="True class of --video (default: the first model's prediction)."),
    length: int = typer.Option(40, help="Frames sampled from --video."),
    size: int = typer.Option(64, help="Frame size of the loaded clip."),
    columns: int = typer.Option(10, help="Frames drawn per model (evenly spaced)."),
    score: str = typer.Option("logit", help="What the maps are the gradient of: logit (the true class's logit,"
                              " Simonyan et al.) or loss (its cross-entropy, whose gradient also scales with 1 - p(label))."),
    out: str = typer.Option("runs/saliency", help="Folder for saliency-<video>.npz and its PNGs (deepsava report reads it)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, "--force", help="Overwrite the .npz and PNGs of this video in --out."),
) -> None:
    """Input-gradient saliency maps overlaid on the frames, per model, and the temporal saliency curve (Appendix D)."""
    import numpy as np
    import torch

    from deepsava.data import load_dataset
    from deepsava.errors import InvalidArgumentError
    from deepsava.evaluate.saliency import (SaliencyView, curve_figure, overlay_figure, saliency_file, saliency_maps,
                                            temporal_saliency, total_saliency)
    from deepsava.io import load_video
    from deepsava.runtime import resolve_device
    from deepsava.select.saliency import SCORES

    _at_least_one(length=length, size=size, columns=columns)
    if index < 0:
        raise InvalidArgumentError(f"--index must be at least 0, got {index}")
    if score not in SCORES:
        raise InvalidArgumentError(f"--score must be one of {', '.join(SCORES)}, got {score!r}")
    dev = resolve_device(device)
    models = [_load_model_spec(spec, dev) for spec in model]
    if video is not None:
        clip, name, classes = load_video(video, frames=length, size=size), video, None
    else:
        data = load_dataset(dataset, split="test", root=root, size=size)
        if not 0 <= index < len(data):
            raise InvalidArgumentError(f"--index must lie in 0..{len(data) - 1} for the {dataset} test split, got {index}")
        (clip, label), name, classes = data[index], data.video_ids[index], data.classes
    if saliency_file(out, name).exists() and not force:
        raise InvalidArgumentError(f"{saliency_file(out, name)} exists: pass --force to overwrite it or choose"
                                   " another --out")
    videos = clip[None].to(dev)
    if label is None:
        with torch.no_grad():
            label = int(models[0][0](videos).argmax())
    for net, shown in models:
        if not 0 <= label < net.num_classes:
            raise InvalidArgumentError(f"class {label} does not exist for {shown} ({net.num_classes} classes)")
    target = torch.tensor([label], device=dev)
    maps = torch.cat([saliency_maps(net, videos, target, score) for net, _ in models])  # (M, T, H, W)
    with torch.no_grad():
        probs = [net(videos).softmax(dim=1)[0] for net, _ in models]
    show = (lambda c: classes[c]) if classes else str  # noqa: E731
    view = SaliencyView(name, show(label), clip.permute(0, 2, 3, 1).expand(-1, -1, -1, 3).numpy(),
                        [n for _, n in models], maps.cpu().numpy(), temporal_saliency(maps).cpu().numpy(),
                        [show(int(p.argmax())) for p in probs], np.array([float(p[label]) for p in probs]), score)
    path = view.save(out)
    path.with_name(path.stem + "-maps.png").write_bytes(overlay_figure(view, columns))
    path.with_name(path.stem + "-curve.png").write_bytes(curve_figure(view))
    for m, (name_m, pred, curve) in enumerate(zip(view.models, view.predictions, view.curves)):
        top = curve.argsort()[::-1][:3].tolist()
        typer.echo(f"{name_m} (predicts {pred}, p(label) {view.confidence[m]:.3f}, total {score}-gradient"
                   f" {total_saliency(view.maps[m]):.4g}): most salient frames {top}"
                   f" ({', '.join(f'{100 * curve[t]:.1f}%' for t in top)} of the saliency),"
                   f" least salient frame {int(curve.argmin())}")
    typer.echo(f"wrote {path} and its -maps.png, -curve.png")


# --- next-frame prediction (deepsava.models.convlstm, deepsava.train_predictor, deepsava.evaluate.prediction) ---
def _prediction_split(split: str, moving_mnist: Optional[str], sequences: int, seed: int):
    """Sequences of one split: generated moving-digits, or the Moving MNIST file's first 90% (train) / last 10% (test)."""
    from torch.utils.data import Subset

    from deepsava.data import load_dataset, load_moving_mnist

    if moving_mnist is None:
        return load_dataset("moving-digits", split=split, seed=seed, sequences=sequences)
    data = load_moving_mnist(moving_mnist)
    cut = len(data) * 9 // 10
    return Subset(data, range(cut) if split == "train" else range(cut, len(data)))


@app.command("train-predictor")
def train_predictor_command(
    out: str = typer.Option(..., help="Checkpoint path stem: writes OUT.safetensors and OUT.json."),
    moving_mnist: Optional[str] = typer.Option(None, help="Train on the standard mnist_test_seq.npy (first 90% of its"
                                               " sequences; the last 10% are the test set) instead of moving-digits."),
    sequences: int = typer.Option(1000, help="moving-digits: training sequences (the test split gets a fifth as many)."),
    epochs: int = typer.Option(12, help="Passes over the training sequences."),
    lr: float = typer.Option(2e-3, help="Initial Adam learning rate, cosine-decayed to 0."),
    batch_size: int = typer.Option(16, help="Sequences per optimisation step."),
    hidden: int = typer.Option(32, help="ConvLSTM state channels."),
    seed: int = typer.Option(0, help="Seed of data generation, initialisation and shuffling."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing checkpoint at --out."),
) -> None:
    """Train the ConvLSTM next-frame predictor (paper Appendix C) on one-step-ahead prediction; write a checkpoint."""
    import time

    import torch

    from deepsava.models.checkpoint import refuse_overwrite
    from deepsava.models.convlstm import NextFramePredictor, save_predictor
    from deepsava.runtime import resolve_device, seed_everything
    from deepsava.train_predictor import evaluate_prediction, train_predictor

    refuse_overwrite(out, force)
    command = (f"deepsava train-predictor --out {out} --sequences {sequences} --epochs {epochs} --lr {lr}"
               f" --batch-size {batch_size} --hidden {hidden} --seed {seed} --device {device}"
               + (f" --moving-mnist {moving_mnist}" if moving_mnist else ""))
    dev = resolve_device(device)
    train_set = _prediction_split("train", moving_mnist, sequences, seed)
    test_set = _prediction_split("test", moving_mnist, max(sequences // 5, 1), seed)
    seed_everything(seed)
    net = NextFramePredictor(channels=train_set[0][0].shape[1], hidden=hidden)
    start = time.perf_counter()
    history = train_predictor(net, train_set, test_set, epochs=epochs, lr=lr, batch_size=batch_size, device=dev, seed=seed)
    seconds = time.perf_counter() - start
    test_mse = evaluate_prediction(net, test_set, device=dev)
    repeat_last = evaluate_prediction(torch.nn.Identity(), test_set, device=dev)  # predicts frame t+1 = frame t
    metadata = {"dataset": "mnist_test_seq.npy" if moving_mnist else "moving-digits", "frames": train_set[0][0].shape[0],
                "train_sequences": len(train_set), "test_sequences": len(test_set), "test_mse": test_mse,
                "test_mse_repeat_last_frame": repeat_last,
                "training": {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "optimizer": "adam",
                             "schedule": "cosine", "device": str(dev), "threads": torch.get_num_threads(),
                             "seconds": round(seconds, 1)},
                "history": history, "command": command}
    stem = save_predictor(net, out, metadata)
    typer.echo(f"convlstm predictor: test one-step MSE {test_mse:.5f} (repeating the last frame:"
               f" {repeat_last:.5f}); wrote {stem}.safetensors and {stem}.json")


@app.command("prediction-attack")
def prediction_attack_command(
    checkpoint: Optional[str] = typer.Option(None, help="Predictor checkpoint stem (default: the shipped ConvLSTM trained"
                                             " on moving-digits)."),
    moving_mnist: Optional[str] = typer.Option(None, help="Attack sequences of the standard mnist_test_seq.npy (its last"
                                               " 10%, held out by train-predictor) instead of moving-digits' test split."),
    sequences: int = typer.Option(100, help="Held-out sequences attacked (the paper: 100)."),
    selectors: str = typer.Option("first,bo", help="Comma-separated key-frame selectors compared (first: the first"
                                  " frame; bo: Bayesian optimisation; also random, brute, saliency, ...)."),
    budgets: str = typer.Option("l2,ssim", help="Comma-separated budgets: l2 (the paper's l2 ball of 0.03, read as the"
                                " per-pixel RMS change of the frame, = its l2,1 norm) and/or ssim (SSIM >= 0.95)."),
    steps: int = typer.Option(100, help="Adam steps of the attack."),
    lam: float = typer.Option(0.0, help="Weight λ of Eq. C.1's SSIM term, λ·Σ(1 − SSIM); 0: the budget alone bounds"
                              " the change."),
    lr: float = typer.Option(0.01, help="Adam learning rate of noise and flow."),
    batch_size: int = typer.Option(25, help="Sequences attacked together."),
    seed: int = typer.Option(0, help="Seed of BO and of the moving-digits test split."),
    out: str = typer.Option("runs/prediction", help="Folder for prediction.json and its plots (deepsava report reads it)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, "--force", help="Overwrite the prediction.json of an earlier run in --out."),
) -> None:
    """DeepSAVA against the next-frame predictor (Appendix C): maximise the prediction MSE with one perturbed frame."""
    from pathlib import Path

    import torch

    from deepsava.attacks.base import check_finite
    from deepsava.errors import InvalidArgumentError
    from deepsava.evaluate.prediction import (SUMMARY_COLUMNS, attack_predictor, frame_figure, save_outcomes, step_figure,
                                              summary_rows)
    from deepsava.models.convlstm import load_predictor
    from deepsava.runtime import resolve_device, seed_everything
    from deepsava.select import SELECTORS

    chosen = [s.strip() for s in selectors.split(",") if s.strip()]
    limits = [b.strip() for b in budgets.split(",") if b.strip()]
    for name in chosen:
        if name not in SELECTORS:
            raise InvalidArgumentError(f"unknown selector {name!r}: use {', '.join(SELECTORS)}")
    for name in limits:
        if name not in ("l2", "ssim"):
            raise InvalidArgumentError(f"unknown budget {name!r}: use l2 and/or ssim")
    if not chosen or not limits:
        raise InvalidArgumentError("need at least one selector and one budget")
    _at_least_one(sequences=sequences, steps=steps, batch_size=batch_size)
    check_finite(lr=lr)
    if not lam >= 0:
        raise InvalidArgumentError(f"--lam must be non-negative, got {lam}")
    if (Path(out) / "prediction.json").is_file() and not force:
        raise InvalidArgumentError(f"{Path(out) / 'prediction.json'} exists: pass --force to overwrite it or choose"
                                   " another --out")
    dev = resolve_device(device)
    predictor, meta = load_predictor(checkpoint, dev)
    test = _prediction_split("test", moving_mnist, sequences, seed)
    count = min(sequences, len(test))
    data = torch.stack([test[i][0] for i in range(count)]).to(dev)
    outcomes = []
    for selector in chosen:
        for budget in limits:
            seed_everything(seed)
            outcomes.append(attack_predictor(predictor, data, selector, budget, steps, seed, lr, batch_size, lam))
            typer.echo(" | ".join(summary_rows(outcomes[-1:])[0]))
    about = {"checkpoint": checkpoint or "shipped:convlstm-moving-digits", "predictor_test_mse": meta.get("test_mse"),
             "dataset": "mnist_test_seq.npy" if moving_mnist else "moving-digits", "sequences": count,
             "frames": data.shape[1], "seed": seed, "lr": lr, "lam": lam,
             "command": f"deepsava prediction-attack --sequences {sequences} --selectors {selectors} --budgets {budgets}"
                        f" --steps {steps} --lr {lr} --lam {lam:g} --seed {seed}"
                        + (f" --checkpoint {checkpoint}" if checkpoint else "")
                        + (f" --moving-mnist {moving_mnist}" if moving_mnist else "")}
    path = save_outcomes(out, outcomes, about)
    (Path(out) / "figure-c9.png").write_bytes(step_figure(outcomes))
    (Path(out) / "prediction-frames.png").write_bytes(frame_figure(outcomes))
    typer.echo("columns: " + " | ".join(SUMMARY_COLUMNS))
    typer.echo(f"wrote {path}, figure-c9.png and prediction-frames.png; report: deepsava report {out}")


def _from_ctrl_c(err: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the exceptions that led to ``err``."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


def run() -> None:
    """Entry point: user errors become one line on stderr and a documented exit code.

    Exit codes (``deepsava.errors.EXIT_CODES``): 0 success, 2 usage error (unknown
    option, bad option value), one per error class (3 invalid argument, 4 invalid
    video, 5 invalid checkpoint, 6 invalid dataset, 7 invalid config), 8 a file or
    folder that cannot be read or written, 130 interrupted. ``--debug`` shows the
    traceback instead.
    """
    try:
        app()
    except SystemExit as done:  # typer turns Ctrl-C into a silent exit 130: say so
        if done.code == 130 and _from_ctrl_c(done):
            typer.echo("interrupted", err=True)
        raise
    except DeepSAVAError as err:
        if _state["debug"]:
            raise
        typer.echo("error: " + " ".join(str(err).split()), err=True)  # one line, whatever the message
        sys.exit(err.exit_code)
    except OSError as err:
        if _state["debug"]:
            raise
        where = f": {err.filename}" if err.filename else ""
        typer.echo(f"error: {err.strerror or err}{where}", err=True)
        sys.exit(FILE_SYSTEM_EXIT_CODE)
    except sqlite3.DatabaseError as err:
        if _state["debug"] or type(err) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
            raise  # its other subclasses (ProgrammingError, IntegrityError, ...) are bugs
        typer.echo(f"error: the result database cannot be read or written: {err}", err=True)  # disk full, read-only
        sys.exit(FILE_SYSTEM_EXIT_CODE)
