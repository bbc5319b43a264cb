"""Experiment configurations: YAML in, validated and expanded cells out, before any work.

A configuration (YAML, read by a safe loader that refuses duplicate keys) is a mapping::

    name: table3                    # required: names the default run folder runs/<name> (a plain name)
    description: "..."              # optional free text
    dataset:                        # required
      name: synth-actions           # synth-actions, moving-digits, ucf101 or hmdb51
      root: null                    # the video folder for ucf101 / hmdb51
      split: test                   # train or test (default test)
      frames: 40                    # frames per clip (null: the dataset's default)
      size: 64                      # frame height and width
      seed: 0                       # generation / sampling seed
      options: {}                   # more load_dataset options (fold, num_classes, ...)
    models:                         # required: label -> checkpoint
      i3d: {checkpoint: "shipped:i3d"}          # shipped:<name>, or a checkpoint path stem
    videos: 60                      # videos per cell and repeat (reduce with --limit)
    repeats: 3                      # repeats, each with its own seed and its own video sample
    seed: 0                         # base seed
    batch_size: 8                   # videos attacked together
    examples: 2                     # perturbations saved per cell (repeat 0) for reports
    transfer: [i3d, cnn-lstm]       # optional: also classify every adversarial video with these models (Table 12)
    compression: [18, 23, 28]       # optional: also classify every adversarial video after H.264 at these CRFs
    cells:                          # required: a list of cell templates
      - label: "DeepSAVA (BO)"      # optional; default the method name
        model: [i3d, cnn-lstm]      # one label or a list (default: every model)
        attack:
          method: deepsava          # deepsava, sparse, flicker, sparse-flicker, pgd or fgsm
          selector: bo
          frames: [1, 2, 4]         # any scalar attack parameter may be a list: a sweep

A template expands into one cell per combination of its models and swept
values. Every unknown key, duplicate key, wrong type or out-of-range value raises
:class:`~deepsava.errors.InvalidConfigError` naming it, e.g.
``cells[2].attack.stpes: unknown key (did you mean steps?)``; so do values that
only fail against another field (an attack's ``frames`` beyond the clip length
``dataset.frames``, a frame size below the SSIM window). ``dataset.options``
and ``selector_options`` have a schema per dataset and per selector; counts and
sizes have upper bounds (``MAX_*``) so that a typo cannot allocate absurd memory;
each attack is also built once on a stand-in model so that its own checks run
before any work.
"""

import difflib
import inspect
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from deepsava.data.synthetic import CLASSES as SYNTH_CLASSES
from deepsava.errors import DeepSAVAError, InvalidConfigError
from deepsava.perturb.ssim import WINDOW
from deepsava.select.saliency import SCORES as SALIENCY_SCORES

# -- field types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One configuration value: its kind ("int", "float", "bool", "str", "map"), range and choices."""

    kind: str
    required: bool = False
    default: object = None
    nullable: bool = False
    low: float | None = None  # inclusive unless low_open
    high: float | None = None  # inclusive
    low_open: bool = False
    choices: tuple = ()
    sweepable: bool = True

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        kind = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "text",
                "map": "a mapping"}[self.kind]
        if self.low is not None and self.high is not None:
            kind += f" in {'(' if self.low_open else '['}{self.low}, {self.high}]"
        elif self.low is not None:
            kind += f" {'>' if self.low_open else '>='} {self.low}"
        return kind + (" or null" if self.nullable else "")


def _check_value(path: str, spec: Field, value):
    """The value, validated (ints stay ints, numbers become floats); raises InvalidConfigError naming ``path``."""
    if value is None:
        if spec.nullable:
            return None
        raise InvalidConfigError(f"{path}: must be {spec.describe()}, got null")
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "map": isinstance(value, dict),
    }[spec.kind]
    if not ok:
        hint = ""
        if spec.kind == "float" and isinstance(value, str):
            try:
                float(value)
                hint = " (YAML reads 1e-3 as text: write 1.0e-3)"
            except ValueError:
                pass
        raise InvalidConfigError(f"{path}: must be {spec.describe()}, got {value!r}{hint}")
    if spec.kind == "float":
        value = float(value)
        if not math.isfinite(value):
            raise InvalidConfigError(f"{path}: must be a finite number, got {value!r}")
    if spec.choices and value not in spec.choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in spec.choices], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InvalidConfigError(f"{path}: must be {spec.describe()}, got {value!r}{hint}")
    if spec.kind in ("int", "float"):
        below = spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low)
        above = spec.high is not None and value > spec.high
        if below or above:
            raise InvalidConfigError(f"{path}: must be {spec.describe()}, got {value!r}")
    return value


def _unknown(path: str, key, known) -> InvalidConfigError:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(known)})"
    return InvalidConfigError(f"{path}.{key}: unknown key{hint}" if path else f"{key}: unknown key{hint}")


def _check_mapping(path: str, value, schema: dict[str, Field], sweeps: bool = False) -> dict:
    """Validate a mapping against a schema; with ``sweeps`` a list value of a sweepable field stays a list."""
    if not isinstance(value, dict):
        raise InvalidConfigError(f"{path}: must be a mapping, got {value!r}")
    out = {}
    for key in value:
        if key not in schema:
            raise _unknown(path, key, schema)
    for key, spec in schema.items():
        if spec.required and key not in value:
            raise InvalidConfigError(f"{path}.{key}: required key missing" if path else f"{key}: required key missing")
    for key, item in value.items():  # in the document's order (sweeps expand in it)
        spec = schema[key]
        where = f"{path}.{key}" if path else key
        if sweeps and spec.sweepable and isinstance(item, list):
            if not item:
                raise InvalidConfigError(f"{where}: an empty list sweeps nothing")
            out[key] = [_check_value(f"{where}[{i}]", spec, v) for i, v in enumerate(item)]
        else:
            out[key] = _check_value(where, spec, item)
    return out


# -- the schema ------------------------------------------------------------------------------

SELECTOR_NAMES = ("first", "random", "bo", "brute", "saliency", "anneal", "genetic")
DATASET_NAMES = ("synth-actions", "moving-digits", "ucf101", "hmdb51")
# Upper bounds where a typo would allocate absurd memory or disk (one clip of 512 frames of 512x512 is 1.6 GB).
MAX_FRAMES, MAX_SIZE, MAX_BATCH, MAX_VIDEOS, MAX_SEED = 512, 512, 512, 100_000, 2**32 - 1

DATASET = {
    "name": Field("str", required=True, choices=DATASET_NAMES),
    "root": Field("str", nullable=True),
    "split": Field("str", default="test", choices=("train", "test")),
    "frames": Field("int", nullable=True, low=2, high=MAX_FRAMES),
    "size": Field("int", default=64, low=8, high=MAX_SIZE),
    "seed": Field("int", default=0, low=0, high=MAX_SEED),
    "options": Field("map", nullable=True),
}
_DECODE = {"fold": Field("int", low=1, high=3), "annotations": Field("str"),
           "sampling": Field("str", choices=("stride", "uniform", "random")),
           "short": Field("str", choices=("loop", "pad", "refuse")), "cache": Field("bool")}
DATASET_OPTIONS = {  # what load_dataset(name, **options) takes
    "synth-actions": {"num_classes": Field("int", low=2, high=len(SYNTH_CLASSES)), "videos_per_class": Field("int", low=2, high=10_000),
                      "progress": Field("bool")},
    "moving-digits": {"sequences": Field("int", low=1, high=MAX_VIDEOS), "progress": Field("bool")},
    "ucf101": _DECODE,
    "hmdb51": _DECODE,
}
_COUNT = dict(low=1, high=100_000)
SELECTOR_OPTIONS = {  # the options of each selector (deepsava.select)
    "first": {},
    "random": {},
    "bo": {"evaluations": Field("int", **_COUNT), "initial": Field("int", **_COUNT),
           "probe_steps": Field("int", **_COUNT), "max_candidates": Field("int", **_COUNT),
           "max_rows": Field("int", **_COUNT)},
    "brute": {"probe_steps": Field("int", **_COUNT), "max_rows": Field("int", **_COUNT)},
    "saliency": {"least": Field("bool"), "score": Field("str", choices=SALIENCY_SCORES)},
    "anneal": {"evaluations": Field("int", **_COUNT), "probe_steps": Field("int", **_COUNT),
               "start": Field("float", low=0.0, low_open=True), "end": Field("float", low=0.0, low_open=True)},
    "genetic": {"population": Field("int", low=2, high=100_000), "generations": Field("int", low=0, high=100_000),
                "mutation": Field("float", low=0.0, high=1.0), "probe_steps": Field("int", **_COUNT)},
}
MODEL = {"checkpoint": Field("str", required=True)}
TOP = {
    "name": Field("str", required=True),
    "description": Field("str", nullable=True),
    "dataset": Field("map", required=True),
    "models": Field("map", required=True),
    "videos": Field("int", required=True, low=1, high=MAX_VIDEOS),
    "repeats": Field("int", default=1, low=1, high=1000),
    "seed": Field("int", default=0, low=0, high=MAX_SEED),
    "batch_size": Field("int", default=8, low=1, high=MAX_BATCH),
    "examples": Field("int", default=2, low=0, high=MAX_VIDEOS),
    "cells": Field("str", required=True),  # checked by hand: a list
    "transfer": Field("str"),  # checked by hand: a list of model labels
    "compression": Field("str"),  # checked by hand: a list of CRFs
}
CELL = {"label": Field("str"), "model": Field("str"), "attack": Field("map", required=True)}

_PROB = dict(low=0.0, high=1.0, low_open=True)
_COMMON = {
    "method": Field("str", required=True, sweepable=False),
    "steps": Field("int", low=1, high=1_000_000),
    "selector_options": Field("map", sweepable=False),
}
_SELECTED = {"frames": Field("int", low=1), "selector": Field("str", choices=SELECTOR_NAMES)}
_DENSE_OR_SELECTED = {"frames": Field("int", nullable=True, low=1), "selector": Field("str", choices=SELECTOR_NAMES)}
_FLICKER = {"lr": Field("float", low=0.0, low_open=True), "beta_thickness": Field("float", low=0.0),
            "beta_roughness": Field("float", low=0.0), "kappa": Field("float", low=0.0),
            "max_offset": Field("float", **_PROB)}
_EARLY_STOP = {"early_stop": Field("bool")}  # false: every step runs, no stop at the first success (DeepSAVA, Sparse)
ATTACKS = {
    "deepsava": {**_COMMON, **_SELECTED, "mode": Field("str", choices=("additive", "spatial", "combined")),
                 "lam": Field("float", nullable=True, low=0.0), "lr": Field("float", low=0.0),
                 "noise_lr": Field("float", low=0.0), "flow_lr": Field("float", low=0.0),
                 "ssim_budget": Field("float", nullable=True, **_PROB),
                 "l21_budget": Field("float", nullable=True, low=0.0, low_open=True), **_EARLY_STOP},
    "sparse": {**_COMMON, **_SELECTED, "lam": Field("float", low=0.0), "lr": Field("float", low=0.0, low_open=True),
               "init": Field("float", low=-1.0, high=1.0),
               "ssim_budget": Field("float", nullable=True, **_PROB),
               "l21_budget": Field("float", nullable=True, low=0.0, low_open=True), **_EARLY_STOP},
    "flicker": {**_COMMON, **_DENSE_OR_SELECTED, **_FLICKER},
    "sparse-flicker": {**_COMMON, **_SELECTED, **_FLICKER},
    "pgd": {**_COMMON, **_DENSE_OR_SELECTED, "eps": Field("float", **_PROB), "alpha": Field("float", low=0.0, low_open=True),
            "random_start": Field("bool"), "early_stop": Field("bool")},
    "fgsm": {k: v for k, v in {**_COMMON, **_DENSE_OR_SELECTED, "eps": Field("float", **_PROB)}.items() if k != "steps"},
}


# -- the validated experiment ----------------------------------------------------------------


@dataclass
class CellSpec:
    """One cell of an experiment: a model label, an attack (method + explicit parameters), a display label."""

    index: int  # position after expansion
    template: int  # index of the entry of ``cells`` it came from
    label: str
    model: str
    attack: dict  # {"method": ..., explicit parameters}
    swept: dict = field(default_factory=dict)  # the values this cell takes for the template's swept keys

    @property
    def method(self) -> str:
        return self.attack["method"]


@dataclass
class ExperimentConfig:
    name: str
    dataset: dict
    models: dict  # label -> {"checkpoint": ...}
    videos: int
    repeats: int
    seed: int
    batch_size: int
    examples: int
    cells: list[CellSpec]
    description: str = ""
    source: str = ""  # the YAML text, when read from a file
    path: str | None = None
    transfer: list[str] = field(default_factory=list)  # target model labels (evaluate.transfer)
    compression: list[int] = field(default_factory=list)  # H.264 CRFs (evaluate.compression)


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping holding the same key twice (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise InvalidConfigError(f"{key}: duplicate key at line {line} (first given at line"
                                                 f" {seen[key]}): give each key once")
                    seen[key] = line
                except TypeError:  # an unhashable key: SafeLoader's own error follows
                    continue
        return super().construct_mapping(node, deep)


def read_config(text: str, where: str = "config") -> ExperimentConfig:
    """Parse and validate an experiment's YAML text (``where`` names it in errors); the text is kept as its source."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except InvalidConfigError as err:
        raise InvalidConfigError(f"{where}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InvalidConfigError(f"{where}: not valid YAML{place}: {reason}") from None
    config = parse_config(data)
    config.source = text
    return config


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment YAML file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidConfigError(f"experiment config {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InvalidConfigError(f"{path}: not UTF-8 text (byte {err.start}): save the config as UTF-8") from None
    config = read_config(text, str(path))
    config.path = str(path)
    return config


def parse_config(data) -> ExperimentConfig:
    """Validate a loaded YAML document and expand its cells."""
    if not isinstance(data, dict):
        raise InvalidConfigError(f"an experiment config must be a mapping at the top level, got {type(data).__name__}")
    cells = data.get("cells")
    by_hand = ("cells", "transfer", "compression")
    top = _check_mapping("", {k: v for k, v in data.items() if k not in by_hand},
                         {k: v for k, v in TOP.items() if k not in by_hand})
    if "cells" not in data:
        raise InvalidConfigError("cells: required key missing")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", top["name"]):
        raise InvalidConfigError(f"name: must be a plain folder name (letters, digits, '.', '_', '-'; it names"
                                 f" runs/<name>), got {top['name']!r}")
    dataset = _check_mapping("dataset", top["dataset"], DATASET)
    dataset = {key: dataset.get(key, spec.default) for key, spec in DATASET.items()}
    dataset["options"] = _check_mapping("dataset.options", dataset["options"] or {}, DATASET_OPTIONS[dataset["name"]])
    if dataset["size"] < WINDOW:
        raise InvalidConfigError(f"dataset.size: must be at least {WINDOW} (the SSIM window every attack reports),"
                                 f" got {dataset['size']}")
    clip = dataset["frames"] or (20 if dataset["name"] == "moving-digits" else 40)  # load_dataset's defaults
    models = top["models"]
    if not models:
        raise InvalidConfigError("models: name at least one model")
    models = {str(label): _check_mapping(f"models.{label}", spec, MODEL) for label, spec in models.items()}
    if not isinstance(cells, list) or not cells:
        raise InvalidConfigError("cells: must be a non-empty list of cells")
    expanded = []
    for i, entry in enumerate(cells):
        expanded.extend(_expand(i, entry, models, len(expanded), clip))
    return ExperimentConfig(
        name=top["name"], description=top.get("description") or "", dataset=dataset, models=models,
        videos=top["videos"], repeats=top.get("repeats", 1), seed=top.get("seed", 0),
        batch_size=top.get("batch_size", 8), examples=top.get("examples", 2), cells=expanded,
        transfer=_check_transfer(data.get("transfer"), models), compression=_check_crfs(data.get("compression")),
    )


def _check_transfer(value, models: dict) -> list[str]:
    """``transfer``: a list of model labels of ``models`` (absent: none)."""
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise InvalidConfigError(f"transfer: must be a non-empty list of model labels, got {value!r}")
    for j, name in enumerate(value):
        _check_label(f"transfer[{j}]", name, models)
    return list(dict.fromkeys(value))


def _check_crfs(value) -> list[int]:
    """``compression``: a list of H.264 CRFs, integers in 0..51 (absent: none)."""
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise InvalidConfigError(f"compression: must be a non-empty list of H.264 CRFs (0-51), got {value!r}")
    crf = Field("int", low=0, high=51)
    return list(dict.fromkeys(_check_value(f"compression[{j}]", crf, v) for j, v in enumerate(value)))


def _check_label(where: str, name, models: dict) -> None:
    """``name`` must be one of the labels of ``models``."""
    if not isinstance(name, str) or name not in models:
        close = difflib.get_close_matches(str(name), list(models), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (models: {', '.join(models)})"
        raise InvalidConfigError(f"{where}: unknown model {name!r}{hint}")


def _expand(i: int, entry, models: dict, start: int, clip: int) -> list[CellSpec]:
    """The cells of template ``i``; ``clip`` is the dataset's clip length, which no ``frames`` may exceed."""
    path = f"cells[{i}]"
    if not isinstance(entry, dict):
        raise InvalidConfigError(f"{path}: must be a mapping with an attack, got {entry!r}")
    for key in entry:
        if key not in CELL:
            raise _unknown(path, key, CELL)
    if "attack" not in entry:
        raise InvalidConfigError(f"{path}.attack: required key missing")
    label = entry.get("label")
    if label is not None and not isinstance(label, str):
        raise InvalidConfigError(f"{path}.label: must be text, got {label!r}")
    chosen = entry.get("model", list(models))
    chosen = chosen if isinstance(chosen, list) else [chosen]
    for j, name in enumerate(chosen):
        _check_label(f"{path}.model" + (f"[{j}]" if isinstance(entry.get("model"), list) else ""), name, models)
    attack = entry["attack"]
    if not isinstance(attack, dict):
        raise InvalidConfigError(f"{path}.attack: must be a mapping with a method, got {attack!r}")
    method = attack.get("method")
    if method is None:
        raise InvalidConfigError(f"{path}.attack.method: required key missing (one of {', '.join(ATTACKS)})")
    if not isinstance(method, str) or method not in ATTACKS:
        close = difflib.get_close_matches(str(method), list(ATTACKS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (one of {', '.join(ATTACKS)})"
        raise InvalidConfigError(f"{path}.attack.method: unknown method {method!r}{hint}")
    params = _check_mapping(f"{path}.attack", attack, ATTACKS[method], sweeps=True)
    counts = params.get("frames")
    for j, k in enumerate(counts if isinstance(counts, list) else [counts]):
        if k is not None and k > clip:
            where = f"{path}.attack.frames" + (f"[{j}]" if isinstance(counts, list) else "")
            raise InvalidConfigError(f"{where}: {k} frames exceed the clip length {clip} (dataset.frames)")
    swept_keys = [k for k, v in params.items() if isinstance(v, list)]
    combos = itertools.product(*(params[k] for k in swept_keys))
    cells = []
    for combo in combos:
        values = dict(zip(swept_keys, combo))
        spec = {**params, **values}
        selector = spec.get("selector", inspect.signature(attack_class(method)).parameters["selector"].default)
        if spec.get("selector_options"):
            if not SELECTOR_OPTIONS[selector]:
                raise InvalidConfigError(f"{path}.attack.selector_options: selector {selector} takes no options")
            _check_mapping(f"{path}.attack.selector_options", spec["selector_options"], SELECTOR_OPTIONS[selector])
        _try_build(f"{path}.attack", spec)
        base = label or method
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        for name in chosen:
            cells.append(CellSpec(start + len(cells), i, f"{base} ({shown})" if shown else base, name, spec, values))
    return cells


class _StandIn(torch.nn.Module):
    """A model stand-in so that an attack's constructor checks run during validation."""

    name = "stand-in"
    num_classes = 2

    def forward(self, videos):  # pragma: no cover - never called
        raise RuntimeError("the stand-in model is never run")


def _try_build(path: str, spec: dict) -> None:
    try:
        build_attack(_StandIn(), spec, seed=0)
    except InvalidConfigError:
        raise
    except (DeepSAVAError, TypeError) as err:
        raise InvalidConfigError(f"{path}: {err}") from None


def attack_class(method: str):
    """The attack class of a method name of :data:`ATTACKS`."""
    from deepsava.attacks import FGSM, PGD, DeepSAVA, Flicker, Sparse, SparseFlicker

    return {"deepsava": DeepSAVA, "sparse": Sparse, "flicker": Flicker, "sparse-flicker": SparseFlicker,
            "pgd": PGD, "fgsm": FGSM}[method]


def build_attack(model, spec: dict, seed: int):
    """The attack a cell's spec describes, on ``model``, with ``seed``."""
    params = {k: v for k, v in spec.items() if k != "method"}
    return attack_class(spec["method"])(model, seed=seed, **params)
