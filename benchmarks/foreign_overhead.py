"""DeepSAVA's generator iteration over one bare forward+backward, on foreign models (torchvision, Hugging Face).

    python benchmarks/foreign_overhead.py [--device cpu|cuda] [--batch 1] [--frames 16] [--size 112]
                                          [--steps 3] [--repeats 3] [--models r2plus1d_18,videomae]
                                          [--json out.json]

Models, random weights (the timing does not depend on them): ``torchvision:r2plus1d_18``
and a small VideoMAE (hidden 192, 4 layers, 3 heads, 112x112 frames, 16x16 patches,
tubelets of 2 frames) saved with ``save_pretrained`` and loaded as ``hf:FOLDER``, the
way a user's folder is. Videos are ``--frames`` frames of ``--size`` pixels square; each
wrapper resizes, crops and normalises them inside. For each model, measured in the same
run (medians of ``--repeats`` runs after a warm-up):

- a bare forward + backward to the input (cross-entropy), with the weights frozen as
  during an attack (``VideoAttack.__call__`` freezes them);
- one iteration of DeepSAVA's generator (combined perturbation on 1 frame, no early
  stop), weights frozen: the difference between a run of ``--steps`` steps and one of
  1 step, over ``--steps - 1`` (a run of S steps scores S + 1 times and steps S times);
- their ratio;
- the same iteration with trainable weights (as attacks ran before they froze them);
- the wrapper's preprocessing alone (forward + backward).
"""

import argparse
import json
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from deepsava.attacks import DeepSAVA
from deepsava.models import create_model
from timing import timed  # benchmarks/timing.py


def small_videomae(folder: Path, frames: int) -> str:
    """Save a random small VideoMAE classifier (400 classes) and its processor in ``folder``; return its spec."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor

    config = VideoMAEConfig(image_size=112, patch_size=16, num_frames=frames, tubelet_size=2, hidden_size=192,
                            num_hidden_layers=4, num_attention_heads=3, intermediate_size=768, num_labels=400)
    VideoMAEForVideoClassification(config).save_pretrained(folder)
    VideoMAEImageProcessor(size={"shortest_edge": 112}, crop_size={"height": 112, "width": 112}).save_pretrained(folder)
    return f"hf:{folder}"


def measure(model, args, device: torch.device) -> dict:
    """Seconds per bare forward+backward to the input, per generator iteration (weights frozen, as in an attack; and
    trainable), and per preprocessing forward+backward, of ``model`` in eval mode."""
    videos = torch.rand(args.batch, args.frames, 3, args.size, args.size, device=device)
    labels = torch.randint(0, model.num_classes, (args.batch,), device=device)

    def bare():
        x = videos.clone().requires_grad_(True)
        F.cross_entropy(model(x), labels).backward()

    def preprocess():
        x = videos.clone().requires_grad_(True)
        model.transform(x).sum().backward()

    attack = DeepSAVA(model, frames=1, selector="first")
    frames = torch.zeros(args.batch, 1, dtype=torch.long, device=device)

    def iteration() -> float:
        run = lambda steps: timed(lambda: attack.optimise(videos, labels, frames, steps, early_stop=False),  # noqa: E731
                                  device, args.repeats)
        return (run(args.steps) - run(1)) / (args.steps - 1)

    trainable = iteration()
    model.requires_grad_(False)
    return {"bare": timed(bare, device, args.repeats), "generator": iteration(), "trainable": trainable,
            "preprocess": timed(preprocess, device, args.repeats)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--steps", type=int, default=3, help="generator steps of the long run (>= 2; the short has 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each measurement (median)")
    parser.add_argument("--models", default="r2plus1d_18,videomae")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be at least 2 (a generator iteration is the difference to a run of 1 step)")
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch {args.batch} x {args.frames} frames x {args.size}px, {args.steps} generator steps")
    print("| model | forward+backward (ms) | generator iteration (ms) | ratio | iteration, weights trainable (ms) |"
          " preprocessing fwd+bwd (ms) |")
    print("|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            spec = small_videomae(Path(folder), args.frames) if name == "videomae" else f"torchvision:{name}"
            model = create_model(spec).to(device).eval()
            times = measure(model, args, device)
            ratio = times["generator"] / times["bare"]
            rows.append({"model": name, **times, "ratio": ratio})
            print(f"| {name} | {times['bare'] * 1e3:.0f} | {times['generator'] * 1e3:.0f} | {ratio:.2f} |"
                  f" {times['trainable'] * 1e3:.0f} | {times['preprocess'] * 1e3:.1f} |", flush=True)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        args.json.write_text(json.dumps({"settings": settings, "torch": torch.__version__, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
