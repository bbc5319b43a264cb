"""Generator iteration time over one bare forward+backward of the same model on the same batch.

    python benchmarks/attack_overhead.py [--device cpu|cuda] [--batch 8] [--frames 40] [--size 64]

For each tiny model: the time of a bare forward + backward to the input (cross-entropy), and
the time per iteration of DeepSAVA's generator (combined perturbation on 1 frame, no early
stop): the marginal cost of an iteration, (time of 3S steps - time of S steps) / 2S, so that
the set-up of a run (gathering the frames, the SSIM moments, the last forward without a
backward, the result) does not count. The two are measured next to each other ``--repeats``
times; the table gives the median of the per-repeat ratios and their range (the machine's
speed drifts between repeats by more than the difference measured), plus where the
difference goes (perturbation + SSIM + scatter alone). Both run as an attack runs
them: with the model's weights frozen (``VideoAttack.__call__`` freezes them, so a
backward computes the input's gradient only) and its input's values checked once, not
at every forward (``trusted_videos``). The last column is the generator iteration with
trainable weights and a value check per forward, as attacks ran before.
"""

import argparse
import statistics

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
    parser.add_argument("--steps", type=int, default=10, help="S: the generator runs S and 3S steps")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--models", default="i3d,inception-v3,cnn-lstm")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch {args.batch} x {args.frames} frames x {args.size}px, preset {args.preset}")
    print("| model | forward+backward (ms) | generator iteration (ms) | ratio (median) | ratio (range) |"
          " perturb+SSIM (ms) | iteration, weights trainable (ms) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        model = create_model(name, 12, args.preset).to(device).eval()
        videos = torch.rand(args.batch, args.frames, 3, args.size, args.size, device=device)
        labels = torch.randint(0, 12, (args.batch,), device=device)

        def bare():
            x = videos.clone().requires_grad_(True)
            F.cross_entropy(model(x), labels).backward()

        attack = DeepSAVA(model, frames=1, selector="first")
        frames = torch.zeros(args.batch, 1, dtype=torch.long, device=device)

        def run(steps):
            return lambda: attack.optimise(videos, labels, frames, steps, early_stop=False)

        def iteration() -> float:
            return (timed(run(3 * args.steps), device, 1) - timed(run(args.steps), device, 1)) / (2 * args.steps)

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

        t_trainable = iteration()
        model.requires_grad_(False)  # as during an attack, which also checks its input's values once, not per step
        pairs = []
        with trusted_videos():
            for _ in range(args.repeats):
                pairs.append((timed(bare, device, 3), iteration()))
        t_bare, t_gen = (statistics.median(p[i] for p in pairs) for i in (0, 1))
        ratios = sorted(gen / bare for bare, gen in pairs)
        t_pert = timed(perturb_only, device, 5)
        print(f"| {name} | {t_bare * 1e3:.1f} | {t_gen * 1e3:.1f} | {statistics.median(ratios):.2f} |"
              f" {ratios[0]:.2f}–{ratios[-1]:.2f} | {t_pert * 1e3:.2f} | {t_trainable * 1e3:.1f} |")


if __name__ == "__main__":
    main()
