"""DeepSAVA under bfloat16 autocast against float32 on the shipped models (what `--precision bf16` changes).

    OMP_NUM_THREADS=1 python benchmarks/precision.py [--videos 16] [--steps 50]

The same test videos (every k-th of synth-actions' test split), the same first frame, the
same settings, run twice: in float32 and under ``torch.autocast("cpu", torch.bfloat16)``
(the model in bfloat16; SSIM, the perturbation and Adam in float32). Printed per model: FR,
mean SSIM and l2,1 over successes, mean iterations, how many videos have the same outcome,
and the time of each run.
"""

import argparse
import time

import torch

from deepsava.attacks import DeepSAVA
from deepsava.data import load_dataset
from deepsava.models import load_shipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--models", nargs="+", default=["cnn-lstm", "i3d", "inception-v3"])
    args = parser.parse_args()
    test = load_dataset("synth-actions", split="test")
    chosen = list(range(0, len(test), len(test) // args.videos))[: args.videos]
    videos = torch.stack([test[i][0] for i in chosen])
    labels = torch.tensor([test[i][1] for i in chosen])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {len(chosen)} videos, {args.steps} steps")
    print("| model | precision | attacked | FR | SSIM | l2,1 | ANI | same outcome | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        model, _ = load_shipped(name)
        results = {}
        for precision in ("fp32", "bf16"):
            attack = DeepSAVA(model, frames=1, selector="first", steps=args.steps)
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                results[precision] = attack(videos, labels)
            r, seconds = results[precision], time.perf_counter() - start
            won = r.success
            same = int((r.success == results["fp32"].success).sum())
            print(f"| {name} | {precision} | {int(r.clean_correct.sum())} | {r.fooling_rate:.1%} |"
                  f" {r.ssim[won].mean():.4f} | {r.l21[won].mean():.4f} | {r.iterations[won].float().mean():.1f} |"
                  f" {same}/{len(chosen)} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
