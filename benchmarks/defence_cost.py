"""Cost of one adversarial training step over one plain training step, per defence and model.

    python benchmarks/defence_cost.py [--device cpu|cuda] [--steps 5] [--batch 8] [--frames 40] [--size 64]

For each tiny model, the median time of one training step (defence inputs, loss,
backward, Adam step) with plain training (``none``) and with PGD, the combined
perturbation and TRADES at K inner steps, and their ratio to plain training,
all measured in the same run. Expected: about K + 1 for PGD and the combined
defence (K forward+backward passes to the input, then the training pass), a
little more for TRADES (its training pass carries 2B videos).
"""

import argparse
import statistics
import time

import torch

from deepsava.defend import make_defence
from deepsava.defend.trainer import train_mode
from deepsava.models import create_model
from deepsava.train.classifier import optimiser_step


def step_time(model, defence, videos, labels, repeats: int, device: torch.device) -> float:
    """Median seconds of one training step with ``defence`` (after one warm-up step)."""
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    schedule = torch.optim.lr_scheduler.ConstantLR(optimiser, factor=1.0)
    seeds = list(range(len(labels)))
    times = []
    for i in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.eval()
        adversarial = defence.adversarial(model, videos, labels, seeds)
        train_mode(model, [], freeze_bn=True)
        loss, _ = defence.loss(model, videos, adversarial, labels)
        optimiser_step(optimiser, schedule, loss)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=5, help="inner steps K")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="inception-v3,cnn-lstm,i3d")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch {args.batch} x {args.frames} frames x {args.size}px, K = {args.steps}")
    print("| model | plain step (s) | pgd | combined | trades |")
    print("|---|---|---|---|---|")
    for name in args.models.split(","):
        model = create_model(name, 12, "tiny").to(device)
        videos = torch.rand(args.batch, args.frames, 3, args.size, args.size, device=device)
        labels = torch.randint(0, 12, (args.batch,), device=device)
        plain = step_time(model, make_defence("none"), videos, labels, args.repeats, device)
        cells = []
        for method in ("pgd", "combined", "trades"):
            seconds = step_time(model, make_defence(method, steps=args.steps), videos, labels, args.repeats, device)
            cells.append(f"{seconds:.2f} s ({seconds / plain:.1f}x)")
        print(f"| {name} | {plain:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
