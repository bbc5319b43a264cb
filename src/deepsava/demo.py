"""The main job on the embedded default: shipped tiny models -> clean accuracy -> reduced Table 3 -> report.

``deepsava demo`` prints the Table-2-style clean accuracies of the shipped tiny
checkpoints on the synth-actions test split, then runs a reduced Table 3 (Sparse,
Sparse Flickering, DeepSAVA without and with BO, one frame, ``videos`` test
videos per model) through the resumable experiment runner, prints its table and
writes the Markdown/HTML report.
"""

from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from deepsava.data import load_dataset
from deepsava.evaluate.config import parse_config
from deepsava.evaluate.report import write_report
from deepsava.evaluate.runner import run_experiment, summary_table
from deepsava.models import load_shipped
from deepsava.train import evaluate_accuracy

MODELS = ("i3d", "inception-v3", "cnn-lstm")


def demo_config(videos: int, seed: int) -> dict:
    """The reduced Table 3 as an experiment configuration (see configs/table3.yaml for the full one)."""
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
            {"label": "Sparse", "attack": {"method": "sparse", "frames": 1, "selector": "first"}},
            {"label": "Sparse Flickering", "attack": {"method": "sparse-flicker", "frames": 1, "selector": "first"}},
            {"label": "DeepSAVA (without BO)", "attack": {"method": "deepsava", "frames": 1, "selector": "first"}},
            {"label": "DeepSAVA (BO)", "attack": {"method": "deepsava", "frames": 1, "selector": "bo"}},
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


def run_demo(videos: int = 20, device: str = "auto", out: Path = Path("runs/demo"), seed: int = 0,
             force: bool = False, console: Console | None = None) -> Path:
    """Run the demo; return the path of the HTML report."""
    from deepsava.runtime import resolve_device

    console = console or Console()
    table, _ = accuracy_table(resolve_device(device))
    console.print(table)
    outcome = run_experiment(parse_config(demo_config(videos, seed)), out, device=device, force=force, console=console)
    report = write_report(out)
    console.print(summary_table(outcome.summary, title="Reduced Table 3: one perturbed frame (cf. paper Table 3)"))
    console.print(f"report: {report.html}")
    return report.html
