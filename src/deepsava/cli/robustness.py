"""``deepsava robustness``: a model's robustness card under the fixed protocol (a one-model experiment)."""

from typing import Optional

import typer

from deepsava.cli.common import (
    INPUT_HELP,
    MODEL_SPECS,
    PRESET_HELP,
    at_least_one,
    console,
    finish_run,
    input_options,
    invocation,
)
from deepsava.data import DATASETS


def robustness_command(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, help=f"The model: {MODEL_SPECS}, or shipped:NAME (a shipped tiny or"
                                        " defended checkpoint); with --weights it is built and loaded from them."),
    checkpoint: Optional[str] = typer.Option(None, help="Checkpoint stem written by `deepsava train` or `deepsava"
                                             " defend` (PATH.safetensors + PATH.json)."),
    weights: Optional[str] = typer.Option(None, help="State-dict file (.safetensors or .pt) for --model."),
    preset: str = typer.Option("paper", help=PRESET_HELP),
    num_classes: Optional[int] = typer.Option(None, help="Class count of --weights (default: the dataset's)."),
    input: Optional[list[str]] = typer.Option(None, "--input", help=INPUT_HELP),
    dataset: str = typer.Option("synth-actions", help=f"Dataset whose test split is sampled:"
                                f" {', '.join(n for n in DATASETS if n != 'video')}."),
    root: Optional[str] = typer.Option(None, help="UCF101/HMDB51 video folder."),
    length: Optional[int] = typer.Option(None, "--length", help="Frames sampled per video (default: the length the"
                                         " model needs, else 40)."),
    size: int = typer.Option(64, help="Frame size of the loaded clips (models resize inside)."),
    limit: Optional[int] = typer.Option(None, help="Attack only the first N videos of the protocol's seeded sample"
                                        " of 100 (the card says so)."),
    out: str = typer.Option(..., help="Run folder: results.sqlite, card.json, card.md; the same command resumes it;"
                            " `deepsava report` adds the card to the report."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, help="Replace the card run of another model, dataset or protocol in --out."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """A robustness card: the worst case over four attacks, at 1 and 4 perturbed frames (protocol version 1).

    On a seeded sample of 100 test videos (--limit takes the first N): DeepSAVA (BO) at SSIM ≥ 0.98 and ≥ 0.95
    per perturbed frame; Sparse at l2,1 ≤ 0.1; Sparse Flickering with offsets ≤ 0.1/k and PGD with l∞ ≤ 0.1/k
    (each, so, within l2,1 ≤ 0.1); 100 steps (PGD 20), each stopping at its first success. A video counts as
    robust when it is classified correctly and no attack fools it. Writes card.json (model identity with the
    weights' SHA-256, dataset, protocol, clean and robust accuracy per setting and worst case, 95% Wilson
    intervals) and card.md. Resumable; the protocol in full: README, "Robustness card".
    """
    from deepsava.experiment.models import entry_frames, model_entry
    from deepsava.report.console import rich_table
    from deepsava.report.robustness import card_table
    from deepsava.robustness.job import run_robustness

    at_least_one(length=length, size=size, limit=limit)
    entry = model_entry(model, checkpoint, weights, preset, num_classes, input_options(input))
    data = {"name": dataset, "root": root, "frames": length or entry_frames(entry) or 40, "size": size}
    shown = console()
    outcome, card = run_robustness(entry, data, out, limit=limit, device=device, force=force, progress=progress,
                                   console=shown, resume=invocation(ctx))
    if card is not None:
        shown.print(rich_table(card_table(card)))
        shown.print(f"card: {outcome.out / 'card.json'}, {outcome.out / 'card.md'}")
    finish_run(outcome, shown)
