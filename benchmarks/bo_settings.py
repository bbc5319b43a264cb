"""Choosing BO's settings by measurement: evaluations K, initial design and probe length.

    python benchmarks/bo_settings.py [--model i3d] [--videos 20]

For each setting, on the same test videos: the probe loss of the frame BO returns
relative to the brute-force optimum over all T frames (probed with the same
length), how often BO returns the brute-force frame, the fooling rate of the full
attack on BO's frame, and the selection time per video.
"""

import argparse
import time

import torch

from deepsava.attacks import DeepSAVA
from deepsava.data import load_dataset
from deepsava.experiment.plan import video_order
from deepsava.models import load_shipped
from deepsava.select import BayesOpt, BruteForce

SETTINGS = [(6, 3, 5), (10, 4, 5), (15, 5, 5), (10, 4, 10), (10, 4, 2)]  # (evaluations, initial, probe steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="i3d")
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    model, _ = load_shipped(args.model, device)
    test = load_dataset("synth-actions", split="test")
    chosen = video_order(test.labels, 0)[: args.videos]  # the first videos of the runner's order
    videos = torch.stack([test[i][0] for i in chosen]).to(device)
    labels = torch.tensor([test[i][1] for i in chosen], device=device)
    with torch.no_grad():
        keep = model(videos).argmax(1) == labels
    videos, labels = videos[keep], labels[keep]
    print(f"{args.model}: {len(labels)} correctly classified test videos of {len(chosen)}, T={videos.shape[1]}")
    print("| selector | evaluations | initial | probe steps | loss gap to brute | same frame as brute | FR | selection s / video |")
    print("|---|---|---|---|---|---|---|---|")
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    brute_by_steps = {}
    for steps in sorted({s for _, _, s in SETTINGS}):
        attack = DeepSAVA(model, frames=1, selector="brute")
        brute = BruteForce(probe_steps=steps)
        start = time.perf_counter()
        frames = brute.select(attack, videos, labels, 1, g())
        seconds = (time.perf_counter() - start) / len(labels)
        brute_by_steps[steps] = (frames, brute.chosen_loss)
        fr = attack.optimise(videos, labels, frames, 100).fooled.float().mean().item()
        print(f"| brute | {videos.shape[1]} | - | {steps} | 0 | 100% | {fr:.0%} | {seconds:.2f} |")
    for evaluations, initial, steps in SETTINGS:
        attack = DeepSAVA(model, frames=1, selector="first")
        bo = BayesOpt(evaluations=evaluations, initial=initial, probe_steps=steps)
        start = time.perf_counter()
        frames = bo.select(attack, videos, labels, 1, g())
        seconds = (time.perf_counter() - start) / len(labels)
        best_frames, best_loss = brute_by_steps[steps]
        gap = (bo.chosen_loss.float() - best_loss.cpu().float()).mean().item()
        same = (frames.cpu() == best_frames.cpu()).float().mean().item()
        fr = attack.optimise(videos, labels, frames, 100).fooled.float().mean().item()
        print(f"| bo | {evaluations} | {initial} | {steps} | {gap:.3f} | {same:.0%} | {fr:.0%} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
