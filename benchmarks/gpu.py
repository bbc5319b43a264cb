"""The GPU engine, measured: per model and precision, forward+backward and DeepSAVA's costs per video.

    python benchmarks/gpu.py [--device cuda] [--out DIR] [--budget 280] [--compile] [--quick]

Models (random weights: with fixed steps the time does not depend on them):
``i3d`` (paper preset) at 40 x 224², ``torchvision:r2plus1d_18`` at 16 x 112², and a
VideoMAE-base-shaped ``hf:`` model (hidden 768, 12 layers, 16 frames of 224²; needs
transformers). For each model and precision (``fp32``: float32 with TF32 matmuls and
convolutions; ``bf16``: bfloat16 autocast, SSIM and budgets float32 as always):

- the largest batch whose forward+backward fits (doubling from 1 up to ``--max-batch``)
  and the batch with the lowest forward+backward ms per video, with its peak memory;
- one generator iteration (combined perturbation on 1 frame, no early stop) per video at
  that batch, and its ratio to the forward+backward (weights frozen in both, as in an attack);
- DeepSAVA seconds per video with the first frame, BO and brute force selection, fixed
  steps (``--steps``, no early stop) and, for the first model, the paper's 100 steps with
  early stop.

Prints a Markdown table and writes ``gpu.json`` and ``gpu.md`` into ``--out`` (default ``$OUT`` or
``runs/gpu``).
Stops starting new measurements once ``--budget`` seconds have passed (the rows it could not
reach say so). ``--compile`` also measures the forward+backward and the generator with
``torch.compile``; ``--quick`` is a seconds-long smoke run at tiny sizes (for a CPU).
"""

import argparse
import json
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from deepsava.attacks import DeepSAVA
from deepsava.models import create_model
from timing import timed  # benchmarks/timing.py

FULL = [("i3d", dict(frames=40, size=224)), ("torchvision:r2plus1d_18", dict(frames=16, size=112)),
        ("videomae-base", dict(frames=16, size=224))]
QUICK = [("i3d", dict(frames=8, size=64)), ("torchvision:r2plus1d_18", dict(frames=4, size=64)),
         ("videomae-base", dict(frames=4, size=32))]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(name: str, quick: bool, folder: Path, frames: int):
    """The model in eval mode with frozen weights (as an attack runs it)."""
    if name == "i3d":
        model = create_model("i3d", 400, "tiny" if quick else "paper")
    elif name == "videomae-base":
        from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor

        size = 32 if quick else 224
        shape = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64) if quick else {}
        config = VideoMAEConfig(image_size=size, patch_size=16, num_frames=frames, tubelet_size=2, num_labels=400,
                                **shape)
        VideoMAEForVideoClassification(config).save_pretrained(folder)
        VideoMAEImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}).save_pretrained(
            folder)
        model = create_model(f"hf:{folder}")
    else:
        model = create_model(name)
    return model.eval().requires_grad_(False)


def out_of_memory(err: Exception) -> bool:
    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err)


def measure_model(name: str, shape: dict, precision: str, args, device: torch.device, deadline: float) -> dict:
    """Every figure of one model at one precision (see the module's docstring)."""
    row = {"model": name, **shape, "precision": precision}
    with tempfile.TemporaryDirectory() as folder:
        model = build(name, args.quick, Path(folder), shape["frames"]).to(device)
        if args.channels_last and device.type == "cuda":
            model = model.to(memory_format=torch.channels_last_3d)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
        forward = torch.compile(model) if args.compile else model

        def clips(batch: int):
            """Random videos and the model's own predictions as labels, so that every video is attacked."""
            videos = torch.rand(batch, shape["frames"], 3, shape["size"], shape["size"], device=device)
            with torch.no_grad(), autocast:
                return videos, model(videos).argmax(dim=1)

        def bare(videos, labels):
            x = videos.clone().requires_grad_(True)
            with autocast:
                loss = F.cross_entropy(forward(x).float(), labels)
            torch.autograd.grad(loss, x)

        best, batch = None, 1
        while batch <= args.max_batch and time.perf_counter() < deadline:
            try:
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                videos, labels = clips(batch)
                per_video = timed(lambda: bare(videos, labels), device) / batch
                peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
            except RuntimeError as err:
                if not out_of_memory(err):
                    raise
                torch.cuda.empty_cache()
                break
            row["largest_batch"] = batch
            if best is None or per_video < best[1]:
                best = (batch, per_video, peak)
            batch *= 2
        if best is None:
            return {**row, "skipped": "out of time or memory before batch 1"}
        row.update(batch=best[0], forward_backward_ms=best[1] * 1e3, peak_gib=best[2])
        videos, labels = clips(best[0])
        frames = torch.zeros(best[0], 1, dtype=torch.long, device=device)
        attack = DeepSAVA(forward, frames=1, selector="first", steps=args.steps, early_stop=False)

        def generator(steps: int):
            with autocast:
                attack.optimise(videos, labels, frames, steps, early_stop=False)

        if time.perf_counter() < deadline:
            iteration = (timed(lambda: generator(3), device) - timed(lambda: generator(1), device)) / 2
            row.update(generator_ms=iteration / best[0] * 1e3, ratio=iteration / best[0] / best[1])
        runs = [(f"{selector}, {args.steps} steps", dict(selector=selector, steps=args.steps, early_stop=False))
                for selector in ("first", "bo", "brute")]
        if name == "i3d":
            runs += [(f"{selector}, 100 steps, early stop", dict(selector=selector, steps=100, early_stop=True))
                     for selector in ("first", "bo")]
        attack_batch = min(best[0], args.attack_batch)
        videos, labels = videos[:attack_batch], labels[:attack_batch]
        row["seconds_per_video"] = {}
        for label, settings in runs:
            if time.perf_counter() > deadline:
                row["seconds_per_video"][label] = None
                continue
            full = DeepSAVA(forward, frames=1, **settings)
            with autocast:
                seconds = timed(lambda: full(videos, labels), device, repeats=1)  # noqa: B023
            row["seconds_per_video"][label] = seconds / attack_batch
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def markdown(rows: list[dict]) -> str:
    runs = list(dict.fromkeys(k for r in rows for k in r.get("seconds_per_video", {})))
    head = ["model", "T×size", "precision", "batch (largest)", "fwd+bwd ms/video", "generator ms/video", "ratio",
            "peak GiB", *[f"s/video: {r}" for r in runs]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def number(value, pattern):
        return "–" if value is None or value != value else pattern.format(value)

    for r in rows:
        cells = [r["model"], f"{r['frames']}×{r['size']}²", r["precision"],
                 f"{r.get('batch', '–')} ({r.get('largest_batch', '–')})", number(r.get("forward_backward_ms"), "{:.1f}"),
                 number(r.get("generator_ms"), "{:.1f}"), number(r.get("ratio"), "{:.2f}"),
                 number(r.get("peak_gib"), "{:.1f}")]
        cells += [number(r.get("seconds_per_video", {}).get(run), "{:.3f}") for run in runs]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/gpu")))
    parser.add_argument("--budget", type=float, default=280.0, help="seconds after which no new measurement starts")
    parser.add_argument("--steps", type=int, default=10, help="attack steps of the fixed-steps runs")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--attack-batch", type=int, default=16, help="videos attacked at once in the s/video runs")
    parser.add_argument("--models", default="i3d,torchvision:r2plus1d_18,videomae-base")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--channels-last", action="store_true", help="channels_last_3d memory format (CUDA)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True  # "fp32" here is float32 storage with TF32 tensor cores
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    wanted = args.models.split(",")
    shapes = [(name, shape) for name, shape in (QUICK if args.quick else FULL) if name in wanted]
    if args.quick:
        args.max_batch, args.steps = min(args.max_batch, 2), min(args.steps, 2)
    deadline = time.perf_counter() + args.budget
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {card}, torch {torch.__version__}, compile {args.compile}, channels_last {args.channels_last}",
          flush=True)
    rows = []
    for name, shape in shapes:
        for precision in args.precisions.split(","):
            if time.perf_counter() > deadline:
                rows.append({"model": name, **shape, "precision": precision, "skipped": "out of time"})
                continue
            rows.append(measure_model(name, shape, precision, args, device, deadline))
            print(json.dumps(rows[-1]), flush=True)
    table = markdown(rows)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps({"device": card, "torch": torch.__version__,
                                                    "settings": {k: str(v) for k, v in vars(args).items()},
                                                    "rows": rows}, indent=2))
    (args.out / "gpu.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
