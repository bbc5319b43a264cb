"""The robustness card's protocol: one fixed, versioned set of attacks and budgets, and the experiment it makes.

Version 1 (:data:`PROTOCOL`): on a seeded, class-interleaved sample of the test split (100 videos, seed 0;
``--limit N`` takes the first N of the same order), for k = 1 and k = 4 perturbed frames, ten cells:

============================  ===========  =============  ===========================================================
attack                        frames       budget         what holds it to the budget
============================  ===========  =============  ===========================================================
DeepSAVA (BO), combined       chosen by BO SSIM ≥ 0.98    ``ssim_budget``: every perturbed frame is scaled back onto
                                           SSIM ≥ 0.95    the budget before each model evaluation
Sparse (Wei et al.)           first k      l2,1 ≤ 0.1     ``l21_budget``: the same projection, on the video's l2,1
Sparse Flickering             first k      l2,1 ≤ 0.1     ``max_offset`` = 0.1 / k: a uniform RGB offset of at most
                                                          0.1 / k per channel changes a frame by an RMS of at most
                                                          0.1 / k, so the k frames sum to at most 0.1
PGD (l∞, random start)        first k      l2,1 ≤ 0.1     ``eps`` = 0.1 / k: the same bound through l∞ ≤ 0.1 / k
============================  ===========  =============  ===========================================================

Flickering and PGD have no SSIM budget: a uniform offset changes SSIM's luminance term by an amount that
depends on the frame's brightness, and an l∞ ball holds no SSIM bound either; they are bounded in l2,1 only.
Steps: 100 for DeepSAVA, Sparse and Flickering (the paper's iteration limit, Section 4.1; its budgeted Table 5
uses 500, five times the cost), PGD 20 steps of α = ε / 8; every attack stops a video at its first success, so
it returns the first adversarial example it finds (PGD's default, off, would keep the last iterate). The
attacks' other parameters are their defaults (BO's 10 evaluations of 5-step probes; λ per model family).
Batches of 8, fp32. The worst case is taken per number of frames (five cells each) and over all ten.
"""

import yaml

from deepsava.errors import DeepSAVAError, InvalidArgumentError
from deepsava.experiment.config import ExperimentConfig, parse_config

NAME = "robustness"  # the experiment name of every card's run
FRAMES = (1, 4)
SSIM_BUDGETS = (0.98, 0.95)
L21_BUDGET = 0.1
STEPS, PGD_STEPS = 100, 20
ALL = "all settings"  # the name of the worst case over every cell


def group_name(frames: int) -> str:
    """The worst-case group of the cells that perturb ``frames`` frames: "1 frame", "4 frames"."""
    return f"{frames} frame" + ("" if frames == 1 else "s")


def _settings() -> list[dict]:
    """The protocol's cells, each: attack, frames, budget, bound (what holds it there), parameters (the attack spec)."""
    projection = "projection onto the budget before every model evaluation"
    settings = []
    for k in FRAMES:
        bound = L21_BUDGET / k
        for budget in SSIM_BUDGETS:
            settings.append({"attack": "DeepSAVA (BO)", "frames": k, "budget": f"SSIM ≥ {budget}", "bound": projection,
                             "parameters": {"method": "deepsava", "frames": k, "selector": "bo", "steps": STEPS,
                                            "ssim_budget": budget}})
        l21 = f"l2,1 ≤ {L21_BUDGET}"
        settings += [
            {"attack": "Sparse", "frames": k, "budget": l21, "bound": projection,
             "parameters": {"method": "sparse", "frames": k, "steps": STEPS, "l21_budget": L21_BUDGET}},
            {"attack": "Sparse Flickering", "frames": k, "budget": l21,
             "bound": f"|offset| ≤ {bound:g} per frame and channel, so each frame's RMS ≤ {bound:g}",
             "parameters": {"method": "sparse-flicker", "frames": k, "steps": STEPS, "max_offset": bound}},
            {"attack": "PGD", "frames": k, "budget": l21, "bound": f"l∞ ≤ {bound:g}, so each frame's RMS ≤ {bound:g}",
             "parameters": {"method": "pgd", "frames": k, "steps": PGD_STEPS, "eps": bound, "alpha": bound / 8,
                            "early_stop": True}},
        ]
    return settings


PROTOCOL = {
    "version": "1",
    "split": "test",
    "videos": 100,
    "seed": 0,
    "batch_size": 8,
    "precision": "fp32",
    "settings": _settings(),
    "worst_case": {group_name(k): f"the cells on {group_name(k)}" for k in FRAMES} | {ALL: "every cell"},
}


def setting_label(setting: dict) -> str:
    """A cell's label: "DeepSAVA (BO), 1 frame, SSIM ≥ 0.98"."""
    return f"{setting['attack']}, {group_name(setting['frames'])}, {setting['budget']}"


def robustness_config(model: dict, dataset: dict, protocol: dict | None = None) -> ExperimentConfig:
    """The experiment of a card: ``protocol`` (default :data:`PROTOCOL`) on ``model`` (a ``models.<label>`` entry)
    over ``dataset`` (name, root, frames, size, options; its split is the protocol's).

    Raises InvalidArgumentError for a model or dataset the configuration refuses.
    """
    protocol = protocol or PROTOCOL
    label = str(model.get("checkpoint") or model.get("model"))
    cells = [{"label": setting_label(s), "model": label, "attack": s["parameters"],
              "worst_case": [group_name(s["frames"]), ALL]} for s in protocol["settings"]]
    document = {"name": NAME, "description": f"robustness card, protocol {protocol['version']}",
                "dataset": {**dataset, "split": protocol["split"]}, "models": {label: model},
                "videos": protocol["videos"], "seed": protocol["seed"], "batch_size": protocol["batch_size"],
                "precision": protocol["precision"], "examples": 1, "cells": cells}
    try:
        config = parse_config(document)
    except DeepSAVAError as err:
        raise InvalidArgumentError(str(err)) from None
    config.source = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return config
