"""Our Flicker against ART's OverTheAirFlickeringPyTorch on the shipped tiny models and synth-actions test clips.

    OMP_NUM_THREADS=1 python benchmarks/flicker_vs_art.py [--models inception-v3,i3d,cnn-lstm] [--videos 36]

Both attacks flicker every frame with one uniform RGB offset per frame (Pony et al.'s
perturbation family). The same test clips (every k-th of the split, so that every class
is represented), of which only those the model classifies correctly are attacked, by
both, in two settings:

- equal: the same step budget and regularisers, ``--steps`` (20) steps each,
  beta_thickness = beta_roughness = 0.1, margin 0.05; ART's signed steps of 0.01 can
  then reach at most 0.2, our offset bound;
- default: each at its own defaults (ours: 100 Adam steps at lr 0.01, offsets within
  +-0.2, betas 0.1, early stop; ART 1.20: 30 signed steps of 0.01, beta_1 = beta_2 = 0.5,
  no bound but [0, 1]).

Printed per model and setting: FR (successes / attacked), its 99% Wilson interval,
seconds per attacked video (wall time of the whole call over the attacked videos; ART
attacks one video at a time and never stops early), the largest offset and how far the
change departs from one value per frame and channel (0 when no pixel was clipped).
"""

import argparse
import time

import numpy as np
import torch


class ChannelsLast(torch.nn.Module):
    """ART feeds videos as N x F x H x W x C; our models take (B, T, C, H, W)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x.permute(0, 1, 4, 2, 3))


def spread(delta: np.ndarray) -> tuple[float, float]:
    """(largest |offset|, largest spread of the change within a frame and channel) of a change N x F x H x W x C."""
    return float(np.abs(delta).max()), float((delta.max(axis=(2, 3)) - delta.min(axis=(2, 3))).max())


def attack_both(model, videos: torch.Tensor, labels: torch.Tensor, setting: str, steps: int) -> list[dict]:
    """Run ours and ART's on correctly classified videos (B, T, C, H, W); one row per attack."""
    from art.attacks.evasion import OverTheAirFlickeringPyTorch
    from art.estimators.classification import PyTorchClassifier

    from deepsava.attacks import Flicker

    ours = Flicker(model, steps=steps) if setting == "equal" else Flicker(model)
    start = time.perf_counter()
    result = ours(videos, labels)
    ours_s = time.perf_counter() - start
    rows = [{"method": "ours (Adam, logit hinge)", "steps": ours.steps, "success": int(result.success.sum()),
             "seconds": ours_s, "delta": (result.adversarial - videos).permute(0, 1, 3, 4, 2).numpy()}]

    b, t, c, h, w = videos.shape
    classifier = PyTorchClassifier(ChannelsLast(model), loss=torch.nn.CrossEntropyLoss(), input_shape=(t, h, w, c),
                                   nb_classes=model.num_classes, clip_values=(0.0, 1.0), device_type="cpu")
    options = dict(eps_step=0.01, max_iter=steps, beta_0=1.0, beta_1=0.1, beta_2=0.1, loss_margin=0.05) \
        if setting == "equal" else {}
    art = OverTheAirFlickeringPyTorch(classifier, batch_size=b, verbose=False, **options)
    x = videos.permute(0, 1, 3, 4, 2).numpy()
    start = time.perf_counter()
    adversarial = art.generate(x, labels.numpy())
    art_s = time.perf_counter() - start
    with torch.no_grad():
        fooled = model(torch.from_numpy(adversarial).permute(0, 1, 4, 2, 3)).argmax(dim=1) != labels
    rows.append({"method": "ART (signed steps, probability hinge)", "steps": art.max_iter,
                 "success": int(fooled.sum()), "seconds": art_s, "delta": adversarial - x})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="inception-v3,i3d,cnn-lstm")
    parser.add_argument("--videos", type=int, default=36, help="test clips considered per model (every k-th)")
    parser.add_argument("--steps", type=int, default=20, help="the equal step budget")
    parser.add_argument("--settings", default="equal,default")
    args = parser.parse_args()

    from deepsava.data import load_dataset
    from deepsava.metrics import wilson_interval
    from deepsava.models import load_shipped

    torch.manual_seed(0)
    test = load_dataset("synth-actions", split="test")
    picked = list(range(0, len(test), max(1, len(test) // args.videos)))[: args.videos]
    clips = torch.stack([test[i][0] for i in picked])
    truth = torch.tensor([test[i][1] for i in picked])
    print(f"{len(picked)} synth-actions test clips (every {max(1, len(test) // args.videos)}th),"
          f" {torch.get_num_threads()} thread(s)")
    print("| model | setting | method | steps | FR (successes/attacked) | Wilson 99% | s/attacked video"
          " | max offset | spread in frame |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|")
    for name in args.models.split(","):
        model, _ = load_shipped(name, torch.device("cpu"))
        model.eval()
        with torch.no_grad():
            correct = model(clips).argmax(dim=1) == truth
        videos, labels = clips[correct], truth[correct]
        n = len(labels)
        for setting in args.settings.split(","):
            for row in attack_both(model, videos, labels, setting, args.steps):
                low, high = wilson_interval(row["success"], n)
                largest, within = spread(row["delta"])
                print(f"| {name} | {setting} | {row['method']} | {row['steps']} |"
                      f" {row['success'] / n:.1%} ({row['success']}/{n}) | {low:.1%}–{high:.1%} |"
                      f" {row['seconds'] / n:.2f} | {largest:.3f} | {within:.3f} |", flush=True)


if __name__ == "__main__":
    main()
