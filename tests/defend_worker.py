"""A training (and optionally experiment) job for the distributed and resume tests (not part of the package).

    python tests/defend_worker.py OUT [--epochs N] [--plain] [--experiment CONFIG.json]
    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/defend_worker.py OUT ...

PGD-trains a tiny Inception-v3 on :class:`ShortcutVideos` into ``OUT/model`` (resuming from
``OUT/model.state.safetensors`` when present), with ``--plain`` also trains it without a
defence into ``OUT/plain``, then with ``--experiment`` runs the
experiment described by the JSON file into ``OUT/experiment``. Alone or under torchrun,
the same code path: :func:`deepsava.distributed.session` reads torchrun's environment.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shortcut_data import EPS, ShortcutVideos  # noqa: E402

from deepsava.defend import Defence, PGDDefence, adversarial_train  # noqa: E402
from deepsava.distributed import session  # noqa: E402
from deepsava.evaluate.config import parse_config  # noqa: E402
from deepsava.evaluate.runner import run_experiment  # noqa: E402
from deepsava.models import create_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--experiment", type=Path)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with session("cpu") as ranks:
        trained = [("model", PGDDefence(eps=EPS, alpha=EPS / 2, steps=2))] + [("plain", Defence())] * args.plain
        for name, defence in trained:
            torch.manual_seed(0)
            model = create_model("inception-v3", 3)
            adversarial_train(model, defence, ShortcutVideos(48, seed=0), ShortcutVideos(12, seed=1),
                              epochs=args.epochs, lr=1e-3, batch_size=8, seed=0, freeze_bn=True,
                              out=args.out / name, ranks=ranks, progress=False)
        if args.experiment is not None:
            config = parse_config(json.loads(args.experiment.read_text()))
            run_experiment(config, out=args.out / "experiment", device="cpu", progress=False)


if __name__ == "__main__":
    main()
