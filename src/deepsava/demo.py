"""The main job on the embedded default: shipped tiny models -> clean accuracy -> a reduced Table 3.

``deepsava demo`` prints the Table-2-style clean accuracies of the shipped tiny
checkpoints on the synth-actions test split, then attacks the same ``videos``
test videos of every model with every method (one frame perturbed) and prints
fooling rate, ANI, SSIM and time per video; records go to ``out``.
"""

import json
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from deepsava.attacks import DeepSAVA
from deepsava.data import load_dataset
from deepsava.evaluate.attack_job import attack_dataset, choose_videos
from deepsava.evaluate.metrics import summarize
from deepsava.models import load_shipped
from deepsava.train import evaluate_accuracy

MODELS = ("i3d", "inception-v3", "cnn-lstm")


def demo_methods(model) -> dict:
    """The reduced Table 3: method name -> attack on ``model`` (one frame each)."""
    return {
        "DeepSAVA (first frame)": DeepSAVA(model, frames=1, selector="first"),
        "DeepSAVA (BO)": DeepSAVA(model, frames=1, selector="bo"),
    }


def run_demo(videos: int = 20, device: torch.device = torch.device("cpu"), out: Path = Path("runs/demo"),
             seed: int = 0, console: Console | None = None) -> dict:
    """Run the demo; return {"accuracy": {model: top1}, "attacks": {model: {method: summary}}}."""
    console = console or Console()
    test = load_dataset("synth-actions", split="test")
    out.mkdir(parents=True, exist_ok=True)
    accuracy, attacks = {}, {}
    table2 = Table(title="Clean test accuracy of the shipped tiny models (synth-actions, cf. paper Table 2)")
    for column in ("model", "recorded", "measured now"):
        table2.add_column(column, justify="right")
    nets = {}
    for name in MODELS:
        net, meta = load_shipped(name, device)
        nets[name] = net
        accuracy[name] = evaluate_accuracy(net, test, device=device)["top1"]
        table2.add_row(name, f"{meta.get('test_accuracy', float('nan')):.1%}", f"{accuracy[name]:.1%}")
    console.print(table2)

    indices = choose_videos(len(test), videos, seed)
    table3 = Table(title=f"Attacks perturbing 1 frame of {len(indices)} test videos (cf. paper Table 3)")
    for column in ("model", "method", "attacked", "FR", "ANI", "SSIM", "s / video"):
        table3.add_column(column, justify="right")
    for name, net in nets.items():
        attacks[name] = {}
        for method, attack in demo_methods(net).items():
            records = attack_dataset(attack, test, indices, batch_size=10, device=device)
            s = attacks[name][method] = summarize(records)
            table3.add_row(name, method, str(s["attacked"]), f"{s['fooling_rate']:.1%}", f"{s['ani']:.1f}",
                           f"{s['ssim']:.4f}", f"{s['seconds_per_video']:.2f}")
    console.print(table3)
    result = {"accuracy": accuracy, "attacks": attacks}
    (out / "demo.json").write_text(json.dumps(result, indent=2))
    console.print(f"results in {out / 'demo.json'}")
    return result
