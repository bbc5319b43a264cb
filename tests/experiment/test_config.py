"""Experiment configs: the schema, its one-line errors (path first, "did you mean"), sweeps, the shipped configs."""

from pathlib import Path

import pytest
import torch
import yaml

from deepsava.attacks import ATTACKS
from deepsava.data import DATASETS
from deepsava.errors import InvalidConfigError
from deepsava.experiment.config import (
    ATTACK_PARAMETERS, DATASET_OPTIONS, LIMITS, SELECTOR_OPTIONS, build_attack, load_config, parse_config, read_config,
)
from deepsava.experiment.runner import run_experiment
from deepsava.select import SELECTORS

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
FROM_RUNS = sorted((ROOT / "configs" / "from-runs").glob("*.yaml"))

from tiny_configs import small_config, write

pytestmark = pytest.mark.usefixtures("one_thread")


def refused(config: dict) -> str:
    """The one-line message parse_config refuses ``config`` with."""
    with pytest.raises(InvalidConfigError) as caught:
        parse_config(config)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["cells"].append({"attack": {"method": "sparse", "stpes": 5}}),
     "cells[2].attack.stpes: unknown key (did you mean steps?)"),
    (lambda c: c.update(vidoes=3), "vidoes: unknown key (did you mean videos?)"),
    (lambda c: c["dataset"].update(frams=8), "dataset.frams: unknown key (did you mean frames?)"),
    (lambda c: c.update(videos="ten"), "videos: must be an integer in [1, 100000], got 'ten'"),
    (lambda c: c.update(repeats=0), "repeats: must be an integer in [1, 1000], got 0"),
    (lambda c: c["cells"][0]["attack"].update(method="sparce"), "cells[0].attack.method: unknown method 'sparce' (did you mean sparse?)"),
    (lambda c: c["cells"][1]["attack"].update(ssim_budget=1.5), "cells[1].attack.ssim_budget: must lie in (0, 1], got 1.5"),
    (lambda c: c["cells"][0]["attack"].update(lr="1e-3"), "cells[0].attack.lr: must be a number, got '1e-3' (YAML reads 1e-3 as text"),
    (lambda c: c["cells"][0]["attack"].update(frames=[1, "two"]), "cells[0].attack.frames[1]: must be an integer, got 'two'"),
    (lambda c: c["cells"][1]["attack"].update(selector="bayes"), "cells[1].attack.selector: must be one of"),
    (lambda c: c["cells"][0].update(model="lstn"), "cells[0].model: unknown model 'lstn' (did you mean lstm?)"),
    (lambda c: c["cells"][1]["attack"].update(selector_options={"evaluations": 3, "initial": 9}, selector="bo"),
     "cells[1].attack: need 1 <= initial"),
    (lambda c: c["cells"][0]["attack"].update(selector_options={"probes": 3}), "cells[0].attack.selector_options: selector first takes no options"),
    (lambda c: c["models"]["lstm"].update(checkpoint="shipped:lstm"), "models.lstm.checkpoint: no shipped checkpoint 'lstm'"),
    (lambda c: c["models"]["lstm"].update(checkpoint="/nowhere/model"), "models.lstm.checkpoint: no checkpoint file"),
    # Limits across fields: the clip length (dataset.frames, 4 here) and the SSIM window.
    (lambda c: c["cells"][1]["attack"].update(frames=[2, 8]),
     "cells[1].attack.frames[1]: 8 frames exceed the clip length 4 (dataset.frames)"),
    (lambda c: c["cells"].append({"attack": {"method": "pgd", "frames": 5}}),
     "cells[2].attack.frames: 5 frames exceed the clip length 4 (dataset.frames)"),
    (lambda c: (c["dataset"].pop("frames"), c["cells"].append({"attack": {"method": "sparse", "frames": 41}})),
     "cells[2].attack.frames: 41 frames exceed the clip length 40"),  # the default clip length
    (lambda c: c["dataset"].update(size=10), "dataset.size: must be at least 11 (the SSIM window"),
])
def test_bad_config_fails_before_any_work_naming_the_key(workdir, tmp_path, edit, message):
    config = small_config(workdir)
    edit(config)
    out = tmp_path / "run"
    with pytest.raises(InvalidConfigError) as caught:
        run_experiment(write(tmp_path, "bad.yaml", config), out=out, device="cpu", progress=False)
    assert message in str(caught.value)
    assert not out.exists()  # nothing written, nothing run


@pytest.mark.parametrize("text, message", [
    ("name: a\nvideos: 2\nvideos: 5\n", "videos: duplicate key at line 3 (first given at line 2)"),
    ("name: a\ndataset:\n  name: synth-actions\n  frames: 4\n  size: 64\n  frames: 8\n",
     "frames: duplicate key at line 6 (first given at line 4)"),
    ("cells:\n  - attack: {method: sparse, steps: 5, steps: 9}\n", "steps: duplicate key at line 2 (first given at line 2)"),
])
def test_duplicate_yaml_keys_are_refused_naming_key_and_line(tmp_path, text, message):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(InvalidConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}: give each key once"


def test_cli_reports_a_config_error_in_one_line(workdir, tmp_path, cli_run):
    config = small_config(workdir)
    config["cells"][1]["attack"]["stpes"] = 3
    code, _, err = cli_run(["experiment", write(tmp_path, "bad.yaml", config)])
    assert code == InvalidConfigError.exit_code
    assert err.strip() == "error: cells[1].attack.stpes: unknown key (did you mean steps?)"


def test_sweeps_expand_into_cells():
    config = parse_config({
        "name": "sweep", "dataset": {"name": "synth-actions"}, "videos": 4,
        "models": {"a": {"checkpoint": "x"}, "b": {"checkpoint": "y"}},
        "cells": [{"label": "D", "model": "a", "attack": {"method": "deepsava", "lam": [0.8, 1.0], "frames": [1, 2]}},
                  {"attack": {"method": "flicker"}}],
    })
    assert [(c.model, c.label) for c in config.cells] == [
        ("a", "D (lam=0.8, frames=1)"), ("a", "D (lam=0.8, frames=2)"), ("a", "D (lam=1.0, frames=1)"),
        ("a", "D (lam=1.0, frames=2)"), ("a", "flicker"), ("b", "flicker")]
    assert config.cells[1].attack == {"method": "deepsava", "lam": 0.8, "frames": 2}
    assert config.dataset["split"] == "test" and config.repeats == 1


@pytest.mark.parametrize("edit, message", [
    ({"transfer": ["lstm", "lstn"]}, "transfer[1]: unknown model 'lstn' (did you mean lstm?)"),
    ({"transfer": "lstm"}, "transfer: must be a non-empty list of model labels"),
    ({"compression": [18, 60]}, "compression[1]: must be an integer in [0, 51], got 60"),
    ({"compression": []}, "compression: must be a non-empty list of H.264 CRFs"),
])
def test_bad_analysis_keys_are_refused(edit, message):
    assert message in refused({**small_config(Path("runs")), **edit})


def test_early_stop_must_be_a_boolean():
    config = {"name": "x", "videos": 1, "dataset": {"name": "synth-actions"}, "models": {"m": {"checkpoint": "m"}},
              "cells": [{"attack": {"method": "sparse", "early_stop": "no"}}]}
    with pytest.raises(InvalidConfigError, match=r"cells\[0\].attack.early_stop: must be true or false"):
        parse_config(config)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_are_valid(path):
    config = load_config(path)
    assert config.cells and config.videos >= (4 if path.name == "quick.yaml" else 20)  # quick: the one-minute look
    assert all(spec["checkpoint"].startswith("shipped:") for spec in config.models.values())


@pytest.mark.parametrize("path", FROM_RUNS, ids=[p.name for p in FROM_RUNS])
def test_configs_over_made_checkpoints_are_valid_and_say_how_to_make_them(path):
    config = load_config(path)
    assert config.cells and config.videos >= (4 if path.name == "quick.yaml" else 20)  # quick: the one-minute look
    assert all(spec["checkpoint"].startswith("runs/") for spec in config.models.values())
    assert "deepsava " in path.read_text().split("name:")[0]  # the header gives the commands that make them


def test_shipped_configs_cover_the_paper_tables():
    names = {p.stem for p in CONFIGS}
    assert {"table3", "table5", "table6", "table7", "table9", "figure6", "table11", "tableB13", "table12",
            "compression", "saliency"} <= names
    assert {"table10", "defence_ablation", "table11-route"} <= {p.stem for p in FROM_RUNS}
    t3 = load_config(ROOT / "configs" / "table3.yaml")
    assert {c.model for c in t3.cells} == {"i3d", "inception-v3", "cnn-lstm"} and t3.repeats == 3
    assert {c.method for c in t3.cells} == {"sparse", "sparse-flicker", "deepsava"}
    t6 = load_config(ROOT / "configs" / "table6.yaml")  # AAP as the paper computes it: both budgets at once
    assert all(c.attack["l21_budget"] == 0.1 and c.attack["ssim_budget"] == 0.92 for c in t6.cells)
    assert {c.model for c in t6.cells} == {"i3d", "inception-v3", "cnn-lstm"} and len(t6.cells) == 9
    t5 = load_config(ROOT / "configs" / "table5.yaml")  # the paper's Table 5, B.14-B.16 budgets
    assert {c.attack.get("l21_budget") for c in t5.cells} == {None, 0.08, 0.09, 0.1}
    assert {c.attack.get("ssim_budget") for c in t5.cells} == {None, 0.98, 0.96, 0.94}
    f6 = load_config(ROOT / "configs" / "figure6.yaml")
    assert {c.attack.get("frames") for c in f6.cells} >= {1, 2, 4, 8}


# -- the schema follows the registries and the constructors ------------------------------------------


def test_methods_and_selectors_are_the_registries():
    assert set(ATTACK_PARAMETERS) == set(ATTACKS) and set(SELECTOR_OPTIONS) == set(SELECTORS)
    assert set(DATASET_OPTIONS) == set(DATASETS)
    assert "one of " + ", ".join(SELECTORS) in refused(
        {**small_config(Path("runs")), "cells": [{"attack": {"method": "sparse", "selector": "bayes"}}]})
    message = refused({**small_config(Path("runs")), "cells": [{"attack": {"steps": 5}}]})
    assert message == f"cells[0].attack.method: required key missing (one of {', '.join(ATTACKS)})"


def test_attack_parameters_are_the_constructors_keywords():
    assert "steps" not in ATTACK_PARAMETERS["fgsm"].model_fields  # FGSM takes one step
    assert "early_stop" not in ATTACK_PARAMETERS["flicker"].model_fields
    assert {"beta_thickness", "max_offset", "lr"} <= set(ATTACK_PARAMETERS["sparse-flicker"].model_fields)  # via **options
    for schema in ATTACK_PARAMETERS.values():
        assert not {"model", "seed", "targeted", "criterion"} & set(schema.model_fields)
    every = {name for schema in (*ATTACK_PARAMETERS.values(), *SELECTOR_OPTIONS.values()) for name in schema.model_fields}
    assert set(LIMITS) <= every  # no bound for a parameter that no longer exists


@pytest.mark.parametrize("attack, message", [
    ({"method": "sparse", "frames": 0}, "cells[0].attack.frames: must be a positive integer, got 0"),
    ({"method": "deepsava", "lam": [0.5, -1.0]}, "cells[0].attack.lam[1]: must be non-negative, got -1.0"),
    ({"method": "pgd", "eps": float("inf")}, "cells[0].attack.eps: must be a finite number, got inf"),
    ({"method": "deepsava", "mode": "additiv"}, "cells[0].attack: unknown mode 'additiv'"),
    ({"method": "deepsava", "steps": 2_000_000}, "cells[0].attack.steps: must be an integer <= 1000000 or null"),
    ({"method": "pgd", "frames": True}, "cells[0].attack.frames: must be an integer or null, got True"),
    ({"method": "sparse", "steps": []}, "cells[0].attack.steps: an empty list sweeps nothing"),
    ({"method": "sparse", "selector_options": [1]}, "cells[0].attack.selector_options: must be a mapping or null"),
    ({"method": "sparse", "selector": "anneal", "selector_options": {"start": 0.0}},
     "cells[0].attack.selector_options.start: must be a number > 0.0, got 0.0"),
    ({"method": "sparse", "selector": "genetic", "selector_options": {"populaton": 4}},
     "cells[0].attack.selector_options.populaton: unknown key (did you mean population?)"),
])
def test_attack_values_are_checked_by_the_constructor_and_named_by_key(attack, message):
    assert refused({**small_config(Path("runs")), "cells": [{"attack": attack}]}).startswith(message)


def test_floats_become_floats_and_only_given_parameters_are_kept():
    config = parse_config({**small_config(Path("runs")), "cells": [{"attack": {"method": "pgd", "eps": 1, "steps": 3}}]})
    assert config.cells[0].attack == {"method": "pgd", "eps": 1.0, "steps": 3}
    assert isinstance(config.cells[0].attack["eps"], float)
    assert build_attack(torch.nn.Identity(), config.cells[0].attack, seed=0).params()["eps"] == 1.0


# -- models, the video dataset, save_videos, configs built in Python ----------------------------------


def test_a_model_is_a_checkpoint_or_a_spec():
    options = {"layout": "BCTHW", "size": [112, 112], "mean": [0.43, 0.39, 0.37], "std": [0.23, 0.22, 0.22],
               "value_range": [0, 255]}
    config = parse_config({**small_config(Path("runs")), "models": {
        "lstm": {"checkpoint": "shipped:cnn-lstm"},
        "r21d": {"model": "torchvision:r2plus1d_18", "weights": "r21d.pth", "num_classes": 10},
        "mine": {"model": "python:my_models:build", "options": options}}})
    assert config.models["lstm"] == {"checkpoint": "shipped:cnn-lstm"}
    assert config.models["r21d"] == {"model": "torchvision:r2plus1d_18", "weights": "r21d.pth", "preset": None,
                                     "num_classes": 10, "options": None}
    assert config.models["mine"]["options"] == options  # as given: deepsava.models reads them


@pytest.mark.parametrize("entry, message", [
    ({"checkpoint": "a", "model": "i3d"}, "models.lstm: give either checkpoint or model, not both"),
    ({"weights": "w.pth"}, "models.lstm: needs checkpoint (shipped:<name> or a checkpoint path stem) or model"),
    ({"checkpont": "a"}, "models.lstm.checkpont: unknown key (did you mean checkpoint?)"),
    ({"checkpoint": "a", "weights": "w.pth"}, "models.lstm.weights: unknown key"),
    ({"model": "i3d", "num_classes": 1}, "models.lstm.num_classes: must be an integer in [2, 100000] or null, got 1"),
    ({"model": "torchvison:r2plus1d_18"}, "models.lstm.model: unknown model 'torchvison:r2plus1d_18': choose one of"),
    ({"model": "hf:/m", "options": {"size": 112}}, "models.lstm.options: hf:FOLDER takes no input options"),
    ({"model": "python:m:f", "options": {"layuot": "BCTHW"}},
     "models.lstm.options.layuot: unknown key (did you mean layout?)"),
    ({"model": "python:m:f", "options": {"mean": [0.5], "std": [0.0]}},
     "models.lstm.options: input option std must be 1 or 3 positive numbers"),
    ("shipped:i3d", "models.lstm: must be a mapping with a checkpoint or a model, got 'shipped:i3d'"),
])
def test_bad_model_entries_are_refused(entry, message):
    assert refused({**small_config(Path("runs")), "models": {"lstm": entry}}).startswith(message)


def test_one_video_file_is_a_dataset():
    video = {"name": "video", "root": "clip.mp4", "frames": 16, "size": 112,
             "options": {"label": None, "classes": ["a", "b"], "sampling": "uniform", "short": "pad"}}
    config = parse_config({**small_config(Path("runs")), "dataset": video,
                           "cells": [{"attack": {"method": "sparse", "frames": 2}}]})
    assert config.dataset == {"name": "video", "root": "clip.mp4", "split": "test", "frames": 16, "size": 112,
                              "seed": 0, "options": video["options"]}
    assert refused({**small_config(Path("runs")), "dataset": {"name": "video"}}) == (
        "dataset.root: required key missing (video is read from a file or folder)")
    message = refused({**small_config(Path("runs")), "dataset": {**video, "options": {"sampling": "strid"}}})
    assert message == "dataset.options.sampling: must be one of stride, uniform, random: unknown sampling 'strid' (did you mean stride?)"
    assert refused({**small_config(Path("runs")), "dataset": {**video, "name": "vidoe"}}).endswith("(did you mean video?)")


def test_save_videos_is_a_boolean_and_off_by_default():
    assert parse_config(small_config(Path("runs"))).save_videos is False
    assert parse_config(small_config(Path("runs"), save_videos=True)).save_videos is True
    assert refused(small_config(Path("runs"), save_videos="yes")) == "save_videos: must be true or false, got 'yes'"


def test_precision_is_fp32_or_bf16():
    assert parse_config(small_config(Path("runs"))).precision == "fp32"
    assert parse_config(small_config(Path("runs"), precision="bf16")).precision == "bf16"
    assert refused(small_config(Path("runs"), precision="bf61")) == (
        "precision: must be one of fp32, bf16: unknown precision 'bf61' (did you mean bf16?)")


def test_a_config_built_in_python_equals_its_yaml():
    document = small_config(Path("runs"), transfer=["lstm"], compression=[23])
    config = parse_config(document)
    assert config.source == "" and config.path is None
    text = yaml.safe_dump(document, sort_keys=False)
    again = read_config(text)
    assert again.source == text
    assert [(c.label, c.model, c.attack) for c in again.cells] == [(c.label, c.model, c.attack) for c in config.cells]
    assert (again.dataset, again.models, again.transfer, again.compression) == (
        config.dataset, config.models, ["lstm"], [23])
