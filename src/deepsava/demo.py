"""The main job on the embedded default: shipped tiny models -> clean accuracy -> reduced Table 3 -> report.

``deepsava demo`` prints the Table-2-style clean accuracies of the shipped tiny
checkpoints on the synth-actions test split, then runs a reduced Table 3 (Sparse,
Sparse Flickering, DeepSAVA without and with BO, one frame, ``videos`` test
videos per model) through the resumable experiment runner, prints its table and
writes the Markdown/HTML report. The run stores its configuration as YAML text
and ``deepsava demo --out ...`` as the command that resumes it; interrupted
(Ctrl-C), it prints that command and writes no report.
"""

import shlex
from pathlib import Path

import torch
import yaml
from rich.console import Console
from rich.table import Table

from deepsava.data import load_dataset
from deepsava.experiment.config import parse_config
from deepsava.experiment.runner import run_experiment
from deepsava.models import load_shipped
from deepsava.report.console import summary_table
from deepsava.report.write import write_report
from deepsava.runtime import resolve_device
from deepsava.train.classifier import evaluate_accuracy

MODELS = ("i3d", "inception-v3", "cnn-lstm")


def demo_config(videos: int, seed: int, steps: int = 100) -> dict:
    """The reduced Table 3 as an experiment configuration (see configs/table3.yaml for the full one).

    ``steps``: iterations per attack (the paper's 100; fewer for a quick look).
    """
    return {
        "name": "demo",
        "description": "Reduced Table 3: Sparse, Sparse Flickering, DeepSAVA without and with BO; 1 frame",
        "dataset": {"name": "synth-actions", "split": "test", "frames": 40, "size": 64},
        "models": {name: {"checkpoint": f"shipped:{name}"} for name in MODELS},
        "videos": videos,
        "repeats": 1,
        "seed": seed,
        "batch_size": 10,
        "examples": 2,
        "cells": [
            {"label": "Sparse", "attack": {"method": "sparse", "frames": 1, "selector": "first", "steps": steps}},
            {"label": "Sparse Flickering", "attack": {"method": "sparse-flicker", "frames": 1, "selector": "first",
                                                        "steps": steps}},
            {"label": "DeepSAVA (without BO)", "attack": {"method": "deepsava", "frames": 1, "selector": "first",
                                                            "steps": steps}},
            {"label": "DeepSAVA (BO)", "attack": {"method": "deepsava", "frames": 1, "selector": "bo", "steps": steps}},
        ],
    }


def accuracy_table(device: torch.device) -> tuple[Table, dict]:
    """Recorded and re-measured clean test accuracy of each shipped model (cf. paper Table 2)."""
    test = load_dataset("synth-actions", split="test")
    table = Table(title="Clean test accuracy of the shipped tiny models (synth-actions; cf. paper Table 2)")
    for column in ("model", "recorded", "measured now"):
        table.add_column(column, justify="right")
    accuracy = {}
    for name in MODELS:
        net, meta = load_shipped(name, device)
        accuracy[name] = evaluate_accuracy(net, test, device=device)["top1"]
        table.add_row(name, f"{meta['test_top1']:.1%}", f"{accuracy[name]:.1%}")
    return table, accuracy


def resume_command(videos: int, device: str, out: Path, seed: int, steps: int) -> str:
    """The ``deepsava demo`` command that resumes this demo run."""
    parts = ["deepsava", "demo", "--out", str(out)]
    parts += [] if videos == 20 else ["--videos", str(videos)]
    parts += [] if steps == 100 else ["--steps", str(steps)]
    parts += [] if seed == 0 else ["--seed", str(seed)]
    parts += [] if device == "auto" else ["--device", device]
    return shlex.join(parts)


def run_demo(videos: int = 20, device: str = "auto", out: Path = Path("runs/demo"), seed: int = 0,
             force: bool = False, console: Console | None = None, steps: int = 100) -> Path | None:
    """Run the demo; return the path of the HTML report, or None when interrupted (nothing reported)."""
    console = console or Console()
    table, _ = accuracy_table(resolve_device(device))
    console.print(table)
    document = demo_config(videos, seed, steps)
    config = parse_config(document)
    config.source = yaml.safe_dump(document, sort_keys=False)  # stored with the results; the report shows it
    resume = resume_command(videos, device, Path(out), seed, steps)
    outcome = run_experiment(config, out, device=device, force=force, console=console, resume=resume)
    console.print(summary_table(outcome.summary, title="Reduced Table 3: one perturbed frame (cf. paper Table 3)"))
    if outcome.interrupted:
        console.print(f"{outcome.stopped()}  (no report written; a report flagged partial: deepsava report {out})")
        return None
    report = write_report(out)
    console.print(f"report: {report.html}")
    return report.html
