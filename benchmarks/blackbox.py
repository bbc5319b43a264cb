"""White-box DeepSAVA, black-box DeepSAVA at several query budgets, and ART's Square attack on the same frame.

    OMP_NUM_THREADS=1 python benchmarks/blackbox.py [--models inception-v3,cnn-lstm] [--videos 6] [--length 16]
        [--budgets 250,500,1000] [--eps 0.03] [--lr 0.01]

The shipped tiny models on synth-actions test clips (every k-th of the split, so that every
class is represented; only the first ``--videos`` the model classifies correctly are
attacked), one frame, the first (``--selector first``: no probes, so black-box queries are
the clean forward and the attack's). Per model:

- white-box DeepSAVA: 100 Adam steps (its defaults), exact gradients;
- black-box DeepSAVA (``deepsava-bb``, its defaults but Adam's step ``--lr``): one run at the largest budget; FR at a
  smaller budget q counts the videos fooled within q queries (a video stops at its first
  success and its search does not depend on its budget);
- ART 1.20's SquareAttack (score-based random search, l_inf ball ``--eps``), on "the model as
  a classifier of that one frame, the rest of the video fixed" (an ART PyTorchClassifier per
  video with a (C, H, W) input); its queries counted as that classifier's forwards, the clean
  prediction included as ours counts its clean forward. ART's implementation forwards 3
  times per iteration (the current point's class, its loss again, the new point), so it
  gets (largest budget - 3) / 3 iterations; an implementation caching the current loss would
  need one query per iteration, i.e. reach the same FR with about a third of the queries.

Printed: FR (successes/attacked) per budget, mean queries of the successes, the mean SSIM of
the perturbed frame over successes, seconds per attacked video.
"""

import argparse
import time

import numpy as np
import torch


class FrameClassifier(torch.nn.Module):
    """The video model as a classifier of frame ``t`` of ``video`` (T, C, H, W), the other frames fixed; counts rows."""

    def __init__(self, model: torch.nn.Module, video: torch.Tensor, t: int):
        super().__init__()
        self.model, self.video, self.t = model, video, t
        self.queries = 0

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        videos = self.video.unsqueeze(0).repeat(len(frames), 1, 1, 1, 1)
        videos[:, self.t] = frames
        self.queries += len(frames)
        return self.model(videos)


def within(queries: list[int], success: list[bool], budget: int, n: int) -> str:
    fooled = sum(s and q <= budget for q, s in zip(queries, success))
    return f"{fooled / n:.1%} ({fooled}/{n})"


def print_row(model: str, method: str, budgets: list[int], queries: list[int], success: list[bool],
              similarity: list[float], seconds: float) -> None:
    """One table row: FR within each budget, mean queries and SSIM of the successes, seconds per attacked video."""
    n = len(queries)
    wins = [q for q, s in zip(queries, success) if s]
    ssims = [v for v, s in zip(similarity, success) if s]
    mean_q = f"{sum(wins) / len(wins):.0f}" if wins else "–"
    mean_s = f"{sum(ssims) / len(ssims):.3f}" if ssims else "–"
    print(f"| {model} | {method} | " + " | ".join(within(queries, success, b, n) for b in budgets)
          + f" | {mean_q} | {mean_s} | {seconds / n:.1f} |", flush=True)


def square(model, videos, labels, frame: int, eps: float, budget: int) -> tuple[list[int], list[bool], list[float]]:
    """ART's SquareAttack on one frame of each video: (queries, success, SSIM of the frame) per video."""
    from art.attacks.evasion import SquareAttack
    from art.estimators.classification import PyTorchClassifier

    from deepsava.perturb import ssim

    queries, success, similarity = [], [], []
    for video, label in zip(videos, labels):
        wrapped = FrameClassifier(model, video, frame)
        classifier = PyTorchClassifier(wrapped, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(video.shape[1:]),
                                       nb_classes=model.num_classes, clip_values=(0.0, 1.0), device_type="cpu")
        attack = SquareAttack(classifier, norm=np.inf, eps=eps, max_iter=(budget - 3) // 3, nb_restarts=1,
                              verbose=False)
        clean = video[frame : frame + 1].numpy()
        adversarial = attack.generate(clean, np.array([int(label)]))
        used = wrapped.queries
        with torch.no_grad():
            fooled = wrapped(torch.from_numpy(adversarial)).argmax(dim=1).item() != int(label)
        queries.append(used)
        success.append(fooled)
        similarity.append(float(ssim(torch.from_numpy(adversarial), torch.from_numpy(clean))))
    return queries, success, similarity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="inception-v3,cnn-lstm")
    parser.add_argument("--videos", type=int, default=6, help="correctly classified test clips attacked per model")
    parser.add_argument("--length", type=int, default=16, help="frames per clip")
    parser.add_argument("--budgets", default="250,500,1000", help="query budgets per video; one run at the largest")
    parser.add_argument("--eps", type=float, default=0.03, help="l_inf radius of ART's Square attack")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's step of the black-box attack (its default 0.01)")
    args = parser.parse_args()

    from deepsava.attacks import BlackBoxDeepSAVA, DeepSAVA
    from deepsava.data import load_dataset
    from deepsava.models import load_shipped

    np.random.seed(0)  # ART's Square attack draws from numpy's global generator

    budgets = sorted(int(b) for b in args.budgets.split(","))
    test = load_dataset("synth-actions", split="test", frames=args.length)
    picked = list(range(0, len(test), max(1, len(test) // 40)))[:40]
    clips = torch.stack([test[i][0] for i in picked])
    truth = torch.tensor([test[i][1] for i in picked])
    print(f"synth-actions test clips of {args.length} frames, {torch.get_num_threads()} thread(s)")
    print("| model | method | " + " | ".join(f"FR ≤ {b} queries" for b in budgets)
          + " | queries of successes | SSIM of successes | s/attacked video |")
    print("|---|---|" + "--:|" * (len(budgets) + 3))
    for name in args.models.split(","):
        model, _ = load_shipped(name, torch.device("cpu"))
        with torch.no_grad():
            correct = model(clips).argmax(dim=1) == truth
        videos, labels = clips[correct][: args.videos], truth[correct][: args.videos]
        n = len(labels)

        start = time.perf_counter()
        white = DeepSAVA(model, frames=1, selector="first")(videos, labels)
        seconds = time.perf_counter() - start
        print(f"| {name} | white-box DeepSAVA (100 Adam steps) | FR {white.fooling_rate:.1%}"
              f" ({int(white.success.sum())}/{n}), ANI {white.iterations[white.success].float().mean():.1f},"
              f" SSIM {white.ssim[white.success].mean():.3f} |" + " |" * (len(budgets) + 1) + f" {seconds / n:.1f} |",
              flush=True)
        start = time.perf_counter()
        black = BlackBoxDeepSAVA(model, frames=1, selector="first", queries=budgets[-1], lr=args.lr)(videos, labels)
        print_row(name, f"black-box DeepSAVA (NES, lr {args.lr})", budgets, black.queries.tolist(),
                  black.success.tolist(), black.ssim.tolist(), time.perf_counter() - start)
        start = time.perf_counter()
        queries, success, similarity = square(model, videos, labels, 0, args.eps, budgets[-1])
        print_row(name, f"ART Square (l_inf {args.eps}), frame 0", budgets, queries, success, similarity,
                  time.perf_counter() - start)


if __name__ == "__main__":
    main()
