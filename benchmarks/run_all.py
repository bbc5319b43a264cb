"""Every benchmark once, at a quick setting, in sequence (``make bench``).

    python benchmarks/run_all.py [--out runs/bench]

Each benchmark runs in its own process with OMP_NUM_THREADS=1 and its output goes to
``<out>/<name>.txt`` (the path is printed before it starts); a summary of exit codes and
times follows at the end. The quick settings only show that each benchmark runs and what
it prints: the figures in docs/RESULTS.md come from the settings given there. A benchmark
whose optional libraries are not installed (ssim_speed: kornia, pytorch-msssim) is skipped
with the reason.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (quick arguments, modules it needs beyond deepsava's own dependencies)
QUICK = {
    "attack_overhead": (["--steps", "2", "--repeats", "1", "--batch", "2", "--models", "cnn-lstm"], []),
    "ssim_speed": ([], ["kornia", "pytorch_msssim"]),
    "key_frames": (["--models", "cnn-lstm", "--videos", "2", "--selectors", "first,bo"], []),
    "bo_settings": (["--model", "cnn-lstm", "--videos", "2"], []),
    "precision": (["--videos", "2", "--steps", "3", "--models", "cnn-lstm"], []),
    "defence_cost": (["--steps", "1", "--repeats", "1", "--batch", "2", "--models", "cnn-lstm"], []),
    "flicker_vs_art": (["--models", "cnn-lstm", "--videos", "4", "--steps", "3", "--settings", "equal"], ["art"]),
    "blackbox": (["--models", "cnn-lstm", "--videos", "2", "--budgets", "50,100"], ["art"]),
    "soak": (["--videos", "24", "--frames", "8", "--steps", "2", "--every", "0.5"], []),
    "video_memory": (["--minutes", "0.05", "--no-sequential"], []),
    "foreign_overhead": (["--steps", "2", "--repeats", "1", "--frames", "4", "--size", "64"], ["transformers"]),
    "gpu": (["--quick", "--models", "i3d", "--precisions", "fp32"], []),
    "profile_attack": (["--batch", "2", "--frames", "8", "--steps", "2", "--top", "8"], []),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for each benchmark's output")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    summary = []
    for name, (options, needs) in QUICK.items():
        missing = [module for module in needs if importlib.util.find_spec(module) is None]
        if missing:
            print(f"{name}: skipped ({', '.join(missing)} not installed)", flush=True)
            summary.append((name, "skipped", 0.0))
            continue
        log = args.out / f"{name}.txt"
        if name in ("soak", "gpu"):
            options = [*options, "--out", str(args.out / name)]
        command = [sys.executable, str(HERE / f"{name}.py"), *options]
        print(f"{name}: {' '.join(command[1:])} > {log}", flush=True)
        start = time.perf_counter()
        with open(log, "w") as output:
            code = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, env=env).returncode
        summary.append((name, "ok" if code == 0 else f"exit {code}", time.perf_counter() - start))
    print(f"\nresults in {args.out}/:")
    for name, status, seconds in summary:
        print(f"  {name:16s} {status:8s} {seconds:6.1f} s")
    sys.exit(0 if all(status in ("ok", "skipped") for _, status, _ in summary) else 1)


if __name__ == "__main__":
    main()
