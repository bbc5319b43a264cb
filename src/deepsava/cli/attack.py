"""``deepsava attack``: one attack on one model over a dataset split or one video file (a one-cell experiment)."""

import tempfile
from typing import Optional

import typer

from deepsava.attacks.blackbox import DEFAULT_QUERIES
from deepsava.cli.common import (INPUT_HELP, MODEL_SPECS, PRESET_HELP, at_least_one, console, finish_run, input_options,
                                 invocation)
from deepsava.data import DATASETS
from deepsava.errors import InvalidArgumentError
from deepsava.experiment.models import entry_frames, model_entry
from deepsava.perturb.combined import MODES
from deepsava.select import SELECTORS


def attack_command(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, help=f"The model attacked: {MODEL_SPECS}, or shipped:NAME. One of ours"
                                        " alone is its shipped tiny checkpoint; with --weights it is built and loaded"
                                        " from them (README: 'Attack your own model')."),
    checkpoint: Optional[str] = typer.Option(None, help="Checkpoint stem written by `deepsava train` (PATH.safetensors"
                                             " + PATH.json)."),
    weights: Optional[str] = typer.Option(None, help="State-dict file (.safetensors or .pt) for --model."),
    preset: str = typer.Option("paper", help=PRESET_HELP),
    num_classes: Optional[int] = typer.Option(None, help="Class count of --weights (default: the dataset's)."),
    input: Optional[list[str]] = typer.Option(None, "--input", help=INPUT_HELP),
    dataset: str = typer.Option("synth-actions", help=f"Dataset attacked: {', '.join(n for n in DATASETS if n != 'video')}."),
    root: Optional[str] = typer.Option(None, help="UCF101/HMDB51 video folder."),
    split: str = typer.Option("test", help="Split attacked: test or train."),
    video: Optional[str] = typer.Option(None, help="Attack one video file instead of a dataset."),
    label: Optional[int] = typer.Option(None, help="True class of --video (default: the model's clean prediction, and"
                                        " the report says so)."),
    length: Optional[int] = typer.Option(None, "--length", help="Frames sampled per video (default: the length the"
                                         " model needs, e.g. 16 for MViT and VideoMAE, else the paper's 40)."),
    size: int = typer.Option(64, help="Frame size of the loaded clips (models resize inside)."),
    frames: int = typer.Option(1, help="Number of frames perturbed (k)."),
    selector: str = typer.Option("bo", help=f"Key-frame selector: {', '.join(SELECTORS)}."),
    mode: str = typer.Option("combined", help=f"Perturbation: {', '.join(MODES)} (combined: D+S)."),
    lam: Optional[float] = typer.Option(None, help="SSIM weight lambda (default: the paper's per model, 1.5 CNN+LSTM,"
                                        " else 1.0)."),
    steps: Optional[int] = typer.Option(None, help="Iteration limit (default 100; 500 with a budget)."),
    lr: float = typer.Option(0.01, help="Adam learning rate of noise and flow."),
    flow_lr: Optional[float] = typer.Option(None, help="Separate learning rate of the flow (pixels per step)."),
    flow_weight: Optional[float] = typer.Option(None, help="Weight of a regulariser on the flow U (default 0: none, as"
                                                " the paper's Eq. 3)."),
    flow_penalty: Optional[str] = typer.Option(None, help="The flow's regulariser: l1 (mean |U|, the authors' code) or"
                                               " tv (stAdv's total variation: a smooth flow)."),
    ssim_budget: Optional[float] = typer.Option(None, help="Lowest SSIM allowed for a perturbed frame, in (0, 1]."),
    l21_budget: Optional[float] = typer.Option(None, help="Largest l2,1 norm of a video's perturbation."),
    black_box: bool = typer.Option(False, "--black-box", help="Score-based black-box DeepSAVA (method deepsava-bb):"
                                   " the same perturbation, SSIM term and budgets, optimised from the model's output"
                                   " scores alone (antithetic NES gradient estimates on a 1/8-resolution noise and"
                                   " flow, Adam steps; no backward through the model). Each video stops at its first"
                                   " success or when its --queries are spent; records get the queries used."),
    queries: Optional[int] = typer.Option(None, help="With --black-box: model queries allowed per video, its clean"
                                          " forward and the frame selection's probes (at most a quarter) included"
                                          f" (default {DEFAULT_QUERIES})."),
    limit: Optional[int] = typer.Option(None, help="Attack only the first N videos of the seeded class-interleaved"
                                        " order (as `deepsava experiment --limit`)."),
    batch_size: int = typer.Option(8, help="Videos attacked together (each stops on its own)."),
    seed: int = typer.Option(0, help="Seed of the video order and of random/BO frame selection."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    precision: str = typer.Option("fp32", help="fp32, or bf16: the model runs under bfloat16 autocast (SSIM, the"
                                  " perturbation and the optimiser stay float32)."),
    out: Optional[str] = typer.Option(None, help="Run folder (results.sqlite, examples, videos), as `deepsava"
                                      " experiment` writes; the same command resumes it; `deepsava report` reads it."),
    save_videos: bool = typer.Option(True, help="With --out: write each adversarial video as lossless FFV1 (.mkv)"
                                     " and an H.264 preview (.mp4)."),
    force: bool = typer.Option(False, help="Replace the results of an earlier run with other settings in --out."),
) -> None:
    """Attack a model with DeepSAVA (white-box, or --black-box); print FR, ANI, SSIM, l2,1, time and (black-box)
    queries per video (and the classes for one video)."""
    from deepsava.experiment.attack_job import attack_config, class_changes, run_attack
    from deepsava.report.console import summary_table

    at_least_one(length=length, size=size, limit=limit, batch_size=batch_size, queries=queries)
    if queries is not None and not black_box:
        raise InvalidArgumentError("--queries is the budget of the black-box attack: add --black-box")
    entry = model_entry(model, checkpoint, weights, preset, num_classes, input_options(input))
    length = length or entry_frames(entry) or 40
    if video is not None:
        data = {"name": "video", "root": video, "frames": length, "size": size, "options": {"label": label}}
    else:
        data = {"name": dataset, "root": root, "split": split, "frames": length, "size": size}
    attack = {"method": "deepsava-bb" if black_box else "deepsava", "frames": frames, "selector": selector, "mode": mode,
              "lam": lam, "steps": steps, "lr": lr, "flow_lr": flow_lr, "ssim_budget": ssim_budget,
              "l21_budget": l21_budget, "flow_weight": flow_weight, "flow_penalty": flow_penalty, "queries": queries}
    attack = {k: v for k, v in attack.items() if v is not None}
    config = attack_config(entry, data, attack,
                           seed=seed, batch_size=batch_size,
                           save_videos=save_videos and out is not None, precision=precision)
    shown = console()
    with tempfile.TemporaryDirectory(prefix="deepsava-attack-") as scratch:
        outcome = run_attack(config, out or scratch, limit=limit, force=force, device=device, console=shown,
                             resume=invocation(ctx))
        method = f"black-box DeepSAVA ({queries or DEFAULT_QUERIES} queries a video, " if black_box else "DeepSAVA ("
        shown.print(summary_table(outcome.summary, title=f"{method}{mode}, {frames} frame(s), selector {selector})"))
        if video is not None:
            for line in class_changes(outcome):
                shown.print(line)
        finish_run(outcome, shown, report_hint=out is not None)
