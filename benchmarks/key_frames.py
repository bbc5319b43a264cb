"""Key-frame selectors compared on the shipped tiny models (paper Table 8 and Section 3.4).

    python benchmarks/key_frames.py [--models i3d,inception-v3,cnn-lstm] [--videos 30] [--device cpu]

For each model and selector, on the same test videos (1 frame perturbed, combined
perturbation): fooling rate, mean probe loss of the chosen frame (lower = more
adversarial; every selector's chosen frame is scored afterwards with the same
probe, including those that do not probe: "first", "middle", "random", "saliency",
and "gumbel", which learns its frame with the perturbation), seconds per video, and
how often the frame matches the brute-force optimum.
"""

import argparse
import time

import torch

from deepsava.attacks import DeepSAVA
from deepsava.data import load_dataset
from deepsava.experiment.plan import video_order
from deepsava.models import load_shipped

SELECTORS = ("first", "middle", "random", "saliency", "bo", "anneal", "genetic", "gumbel", "brute")
PROBE_STEPS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="i3d,inception-v3,cnn-lstm")
    parser.add_argument("--selectors", default=",".join(SELECTORS))
    parser.add_argument("--videos", type=int, default=30)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device(args.device)
    test = load_dataset("synth-actions", split="test")
    indices = video_order(test.labels, args.seed)[: args.videos]  # the first videos of the runner's order
    print(f"{len(indices)} synth-actions test videos, 1 frame, combined, device {device}, probe {PROBE_STEPS} steps")
    print("| model | selector | FR | ANI | probe loss of chosen frame | same frame as brute | s / video |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        model, _ = load_shipped(name, device)
        rows = {}
        for selector in args.selectors.split(","):
            attack = DeepSAVA(model, frames=1, selector=selector, seed=args.seed)
            wins = attacked = ani = 0
            losses, frames, seconds = [], [], 0.0
            for start in range(0, len(indices), args.batch):
                chunk = indices[start : start + args.batch]
                videos = torch.stack([test[i][0] for i in chunk]).to(device)
                labels = torch.tensor([test[i][1] for i in chunk], device=device)
                begin = time.perf_counter()
                result = attack(videos, labels)
                seconds += time.perf_counter() - begin
                ok = result.clean_correct
                attacked += int(ok.sum())
                wins += int(result.success.sum())
                ani += int(result.iterations[result.success].sum())
                if ok.any():
                    chosen = result.frames[ok].to(device)
                    losses.append(attack.probe(videos[ok.to(device)], labels[ok.to(device)], chosen, PROBE_STEPS).cpu())
                    frames.append(result.frames[ok])
            rows[selector] = (torch.cat(frames).flatten(), torch.cat(losses))
            fr = wins / attacked if attacked else float("nan")
            rows[selector] += (fr, ani / wins if wins else float("nan"), seconds / len(indices))
        brute = rows.get("brute")
        for selector, (chosen, loss, fr, ani, sec) in rows.items():
            same = f"{(chosen == brute[0]).float().mean():.0%}" if brute is not None else "-"
            print(f"| {name} | {selector} | {fr:.1%} | {ani:.1f} | {loss.mean():.3f} | {same} | {sec:.2f} |")


if __name__ == "__main__":
    main()
