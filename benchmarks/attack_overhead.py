"""Generator iteration time over one bare forward+backward of the same model on the same batch.

    python benchmarks/attack_overhead.py [--device cpu|cuda] [--batch 8] [--frames 40] [--size 64]

For each tiny model: the median time of a bare forward + backward to the input
(cross-entropy), and the time per iteration of DeepSAVA's generator (combined
perturbation on 1 frame, no early stop) measured in the same run, plus where the
difference goes (perturbation + SSIM + scatter alone). Both run as an attack runs
them: with the model's weights frozen (``VideoAttack.__call__`` freezes them, so a
backward computes the input's gradient only) and its input's values checked once, not
at every forward (``trusted_videos``). The last column is the generator iteration with
trainable weights and a value check per forward, as attacks ran before.
"""

import argparse

import torch
import torch.nn.functional as F

from deepsava.attacks import DeepSAVA
from deepsava.models import create_model
from deepsava.video import trusted_videos
from timing import timed  # benchmarks/timing.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--models", default="i3d,inception-v3,cnn-lstm")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch {args.batch} x {args.frames} frames x {args.size}px, preset {args.preset}")
    print("| model | forward+backward (ms) | generator iteration (ms) | ratio | perturb+SSIM (ms) |"
          " iteration, weights trainable (ms) |")
    print("|---|---|---|---|---|---|")
    for name in args.models.split(","):
        model = create_model(name, 12, args.preset).to(device).eval()
        videos = torch.rand(args.batch, args.frames, 3, args.size, args.size, device=device)
        labels = torch.randint(0, 12, (args.batch,), device=device)

        def bare():
            x = videos.clone().requires_grad_(True)
            F.cross_entropy(model(x), labels).backward()

        attack = DeepSAVA(model, frames=1, selector="first")
        frames = torch.zeros(args.batch, 1, dtype=torch.long, device=device)

        def generator():
            attack.optimise(videos, labels, frames, args.steps, early_stop=False)

        from deepsava.attacks.deepsava import _frames_ssim, clean_moments
        from deepsava.perturb import gather_frames, scatter_frames
        from deepsava.perturb.combined import perturb_frames

        clean = gather_frames(videos, frames)
        moments = clean_moments(clean)  # once per attack, as the generator does

        def perturb_only():
            noise = torch.zeros_like(clean, requires_grad=True)
            flow = torch.zeros(args.batch, 1, 2, args.size, args.size, device=device, requires_grad=True)
            p = perturb_frames(clean, noise, flow)
            scatter_frames(videos, frames, p)
            (1 - _frames_ssim(p, clean, moments)).sum().backward()

        t_trainable = timed(generator, device, 2) / (args.steps + 1)
        model.requires_grad_(False)  # as during an attack, which also checks its input's values once, not per step
        with trusted_videos():
            t_bare = timed(bare, device, 5)
            t_gen = timed(generator, device, 2) / (args.steps + 1)
        t_pert = timed(perturb_only, device, 5)
        print(f"| {name} | {t_bare * 1e3:.1f} | {t_gen * 1e3:.1f} | {t_gen / t_bare:.2f} | {t_pert * 1e3:.2f} |"
              f" {t_trainable * 1e3:.1f} |")


if __name__ == "__main__":
    main()
