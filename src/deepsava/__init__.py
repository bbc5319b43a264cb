"""deepsava: sparse adversarial attacks on video classifiers (DeepSAVA) and defences against them.

``import deepsava as ds`` gives the public API; each name is imported on first use, so
``import deepsava`` stays quick::

    model = ds.create_model("i3d", num_classes=12)
    result = ds.DeepSAVA(model, frames=1, selector="bo")(videos, labels)   # videos (B, T, C, H, W) in [0, 1]
"""

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
API = {
    "DeepSAVA": "deepsava.attacks", "BlackBoxDeepSAVA": "deepsava.attacks", "Sparse": "deepsava.attacks",
    "Flicker": "deepsava.attacks",
    "SparseFlicker": "deepsava.attacks", "PGD": "deepsava.attacks", "FGSM": "deepsava.attacks",
    "AttackResult": "deepsava.attacks", "Misclassification": "deepsava.attacks", "PredictionError": "deepsava.attacks",
    "create_model": "deepsava.models", "load_checkpoint": "deepsava.models", "load_shipped": "deepsava.models",
    "save_checkpoint": "deepsava.models",
    "load_video": "deepsava.io", "write_video": "deepsava.io", "load_dataset": "deepsava.data",
    "ssim": "deepsava.perturb", "warp": "deepsava.perturb", "l21": "deepsava.perturb",
    "run_experiment": "deepsava.experiment.runner", "load_config": "deepsava.experiment.config",
    "write_report": "deepsava.report.write", "run_robustness": "deepsava.robustness.job",
}

__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        value = getattr(importlib.import_module(API[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'deepsava' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
