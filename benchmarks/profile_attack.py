"""Where one DeepSAVA attack with BO selection spends its time (torch.profiler).

    python benchmarks/profile_attack.py [--device cpu|cuda] [--model i3d] [--preset tiny] [--batch 8]
                                        [--frames 40] [--size 64] [--steps 10] [--top 15] [--trace FILE]

One attack of a batch of random videos (random-weight model, fixed ``--steps`` without early
stop, BO's default 10 probes of 5 steps) runs once to warm up, then once under the profiler.
Printed: the wall time split into BO's surrogate (GP fit, log EI, argmax over the candidates),
the model's forwards, and everything else (backward passes, perturbation, SSIM, Adam,
bookkeeping); then the ``--top`` operators by self time. ``--trace`` writes a Chrome trace.
"""

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile, record_function

import deepsava.select.bayesopt as bayesopt
from deepsava.attacks import DeepSAVA
from deepsava.models import create_model

SCOPES = {"model forward": "the model's forwards", "bo surrogate": "BO's GP fit, log EI and argmax"}


class Scoped(torch.nn.Module):
    """The model with its forward inside a profiler scope (its backward is not: autograd runs it apart)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.name = getattr(model, "name", "")

    def forward(self, videos):
        with record_function("model forward"):
            return self.model(videos)


def scoped(fn, scope: str):
    def call(*args, **kwargs):
        with record_function(scope):
            return fn(*args, **kwargs)
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="i3d")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--trace", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = Scoped(create_model(args.model, 12, args.preset)).to(device).eval()
    videos = torch.rand(args.batch, args.frames, 3, args.size, args.size, device=device)
    with torch.no_grad():
        labels = model(videos).argmax(dim=1)  # every video is attacked
    for name in ("fit_surrogate", "log_expected_improvement", "best_untried"):
        setattr(bayesopt, name, scoped(getattr(bayesopt, name), "bo surrogate"))
    attack = DeepSAVA(model, frames=1, selector="bo", steps=args.steps, early_stop=False)
    attack(videos, labels)  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        attack(videos, labels)
        if device.type == "cuda":
            torch.cuda.synchronize()
    wall = time.perf_counter() - start
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}; {args.model}"
          f" ({args.preset}), batch {args.batch} x {args.frames} frames x {args.size}px; BO (10 probes of 5 steps)"
          f" + {args.steps} attack steps; profiled wall time {wall:.2f} s ({wall / args.batch:.3f} s per video)")
    events = {e.key: e for e in prof.key_averages()}
    print("| part | seconds | share |\n|---|---|---|")
    rest = wall
    for scope, words in SCOPES.items():
        seconds = events[scope].cpu_time_total / 1e6 if scope in events else 0.0
        rest -= seconds
        print(f"| {words} | {seconds:.2f} | {seconds / wall:.0%} |")
    print(f"| the rest: backward passes, perturbation, SSIM, Adam, bookkeeping | {rest:.2f} | {rest / wall:.0%} |")
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort, row_limit=args.top, max_name_column_width=48))
    if args.trace:
        prof.export_chrome_trace(args.trace)


if __name__ == "__main__":
    main()
