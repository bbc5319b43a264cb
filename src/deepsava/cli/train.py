"""``deepsava train``, ``evaluate`` and ``train-predictor``: classifiers and the next-frame predictor on clean data."""

from typing import Optional

import typer

from deepsava.cli.common import MODEL_SPECS, PRESET_HELP, console, invocation


def train_command(
    ctx: typer.Context,
    model: str = typer.Option(..., help=f"The model: {MODEL_SPECS} (README: 'Attack your own model')."),
    dataset: str = typer.Option(..., help="Dataset name, e.g. synth-actions (trains on train, reports test)."),
    out: str = typer.Option(..., help="Checkpoint path stem: writes OUT.safetensors and OUT.json (metadata)."),
    preset: str = typer.Option("tiny", help=PRESET_HELP),
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
    from deepsava.train.job import train_job

    metadata, stem = train_job(model, dataset, out, preset=preset, epochs=epochs, lr=lr, batch_size=batch_size,
                               seed=seed, augment=augment, frames=frames, size=size, device=device, root=root,
                               weights=weights, freeze_cnn=freeze_cnn, force=force, progress=progress,
                               command=invocation(ctx))
    typer.echo(f"{model} ({preset}) on {dataset}: clean test top-1 {metadata['test_top1']:.3f}"
               f" (n={metadata['test_videos']})")
    typer.echo(f"wrote {stem}.safetensors and {stem}.json")


def evaluate_command(
    checkpoint: Optional[str] = typer.Option(None, help="Checkpoint path stem (PATH.safetensors + PATH.json)."),
    model: Optional[str] = typer.Option(None, help="Evaluate the shipped tiny checkpoint of this model instead (NAME or"
                                        " shipped:NAME), or any model spec with --weights (an hf: folder holds its own)."),
    weights: Optional[str] = typer.Option(None, help="The weights file of --model (e.g. torchvision's .pth)."),
    preset: str = typer.Option("paper", help=PRESET_HELP),
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

    from deepsava.train.job import evaluate_job

    run = evaluate_job(checkpoint, model, dataset, split, frames, size, root, batch_size, device, weights, preset)
    shown = console()
    what = run.model.name + (f" ({run.model.preset})" if run.model.preset else "")
    shown.print(f"{what} on {run.dataset} {run.split}: clean top-1"
                f" {run.result['top1']:.3f} (n={run.result['n']})")
    if per_class:
        table = Table("class", "top-1")
        for name, acc in run.result["per_class"].items():
            table.add_row(name, f"{acc:.3f}")
        shown.print(table)


def train_predictor_command(
    ctx: typer.Context,
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
    from deepsava.train.job import train_predictor_job

    metadata, stem = train_predictor_job(out, moving_mnist=moving_mnist, sequences=sequences, epochs=epochs, lr=lr,
                                         batch_size=batch_size, hidden=hidden, seed=seed, device=device, force=force,
                                         command=invocation(ctx))
    typer.echo(f"convlstm predictor: test one-step MSE {metadata['test_mse']:.5f} (repeating the last frame:"
               f" {metadata['test_mse_repeat_last_frame']:.5f}); wrote {stem}.safetensors and {stem}.json")
