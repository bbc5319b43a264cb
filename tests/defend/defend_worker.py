"""A training (and optionally experiment) job for the distributed and resume tests (not part of the package).

    python tests/defend_worker.py OUT [--epochs N] [--compare] [--experiment CONFIG.json]
    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/defend_worker.py OUT ...

PGD-trains a tiny Inception-v3 on :class:`ShortcutVideos` into ``OUT/model`` (resuming from
``OUT/model.state.safetensors`` when present); each process writes, for every batch it trained
on, the weights, video seeds and adversarial videos to ``OUT/model.trace-rank<r>.safetensors``. With ``--compare`` it also trains the same
model without a defence (``OUT/plain``), with PGD for one optimiser step (``OUT/step``: one batch of
8) and with injected DeepSAVA videos (``OUT/inject``, its examples kept in
``OUT/inject.injected.safetensors``), then with ``--experiment`` runs the experiment described by
the JSON file into ``OUT/experiment``. Under torchrun every process checks that all ended with the
same weights. Alone or under torchrun, the same code path:
:func:`deepsava.distributed.session` reads torchrun's environment.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shortcut_data import EPS, ShortcutVideos  # noqa: E402

from deepsava.defend import Defence, InjectDefence, PGDDefence, adversarial_train  # noqa: E402
from deepsava.defend.state import weights_digest  # noqa: E402
from deepsava.distributed import gather, session  # noqa: E402
from deepsava.experiment.config import parse_config  # noqa: E402
from deepsava.experiment.runner import run_experiment  # noqa: E402
from deepsava.models import create_model  # noqa: E402


class RecordingPGD(PGDDefence):
    """PGD training that keeps, for every batch, the weights it attacks, the video seeds and the adversarial videos."""

    def __init__(self, **params):
        super().__init__(**params)
        self.trace: dict[str, torch.Tensor] = {}

    def adversarial(self, model, videos, labels, seeds):
        adversarial = super().adversarial(model, videos, labels, seeds)
        step = len(self.trace) // 3
        self.trace[f"{step}.weights"] = torch.cat([p.detach().flatten() for p in model.parameters()]).cpu()
        self.trace[f"{step}.seeds"] = torch.tensor(seeds)
        self.trace[f"{step}.adversarial"] = adversarial.detach().cpu().contiguous()
        return adversarial


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--experiment", type=Path)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pgd = {"eps": EPS, "alpha": EPS / 2, "steps": 2}
    with session("cpu") as ranks:
        recording = RecordingPGD(**pgd)
        trained = [("model", recording, ShortcutVideos(48, seed=0), args.epochs)]
        if args.compare:
            inject = InjectDefence(examples=8, frames=1, steps=5, lr=0.02, batch_size=4)
            trained += [("plain", Defence(), ShortcutVideos(48, seed=0), args.epochs),
                        ("step", PGDDefence(**pgd), ShortcutVideos(8, seed=0), 1),
                        ("inject", inject, ShortcutVideos(16, seed=0), 1)]
        for name, defence, train_set, epochs in trained:
            torch.manual_seed(0)
            model = create_model("inception-v3", 3)
            adversarial_train(model, defence, train_set, ShortcutVideos(12, seed=1), epochs=epochs, lr=1e-3,
                              batch_size=8, seed=0, freeze_bn=True, out=args.out / name, ranks=ranks, progress=False)
            if len(set(gather(ranks, weights_digest(model)))) > 1:  # e.g. a resumed state not handed to every process
                raise SystemExit(f"{name}: the processes ended with different weights")
        save_file(recording.trace, str(args.out / f"model.trace-rank{ranks.rank}.safetensors"))
        if args.experiment is not None:
            config = parse_config(json.loads(args.experiment.read_text()))
            run_experiment(config, out=args.out / "experiment", device="cpu", progress=False)


if __name__ == "__main__":
    main()
