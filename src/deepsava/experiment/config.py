"""Experiment configurations: YAML (or a mapping) in, validated and expanded cells out, before any work.

A configuration (YAML, read by a safe loader that refuses duplicate keys) is a mapping::

    name: table3                    # required: names the default run folder runs/<name> (a plain name)
    description: "..."              # optional free text
    dataset:                        # required
      name: synth-actions           # a dataset of deepsava.data.DATASETS
      root: null                    # the video folder (ucf101, hmdb51) or file (video); required for those
      split: test                   # train or test (default test)
      frames: 40                    # frames per clip (null: the dataset's default)
      size: 64                      # frame height and width
      seed: 0                       # generation / sampling seed
      options: {}                   # the dataset's own options (num_classes, fold, label, ...)
    models:                         # required: label -> a checkpoint, or a model built from a spec
      i3d: {checkpoint: "shipped:i3d"}          # shipped:<name>, or a checkpoint path stem
      r21d: {model: "torchvision:r2plus1d_18", weights: r21d.pth, preset: null, num_classes: null,
             options: null}                     # a spec of deepsava.models; options: a user module's input
    videos: 60                      # videos per cell and repeat (reduce with --limit)
    repeats: 3                      # repeats, each with its own seed and its own video sample
    seed: 0                         # base seed
    batch_size: 8                   # videos attacked together
    examples: 2                     # perturbations saved per cell (repeat 0) for reports
    save_videos: false              # write every adversarial video, not only the examples
    precision: fp32                 # fp32, or bf16: the model runs under bfloat16 autocast
    transfer: [i3d, cnn-lstm]       # optional: also classify every adversarial video with these models (Table 12)
    compression: [18, 23, 28]       # optional: also classify every adversarial video after H.264 at these CRFs
    cells:                          # required: a list of cell templates
      - label: "DeepSAVA (BO)"      # optional; default the method name
        model: [i3d, cnn-lstm]      # one label or a list (default: every model)
        attack:
          method: deepsava          # an attack of deepsava.attacks.ATTACKS
          selector: bo              # a selector of deepsava.select.SELECTORS
          frames: [1, 2, 4]         # any scalar attack parameter may be a list: a sweep
        worst_case: [all]           # optional: the worst-case groups its cells count towards (a name or a list)

A worst-case group (``worst_case: NAME`` on several templates) is reported per model, per video: fooled by
any of its cells, and robust accuracy (:mod:`deepsava.experiment.worst_case`); it is not part of a cell's key.

The schema is pydantic models. An attack's parameters are its class's constructor
parameters, and a selector's options its class's, read from their signatures; the
values are then checked by building the attack once on a stand-in model, so each
check lives in the constructor; likewise a model spec and a user module's input
options are checked by :mod:`deepsava.models`. The configuration adds only its own bounds: upper
bounds (``MAX_*``, :data:`LIMITS`) so that a typo cannot ask for absurd work, the
lower bounds of selector options whose constructors take anything, frames within
the clip length and frame sizes no smaller than the SSIM window.

A template expands into one cell per combination of its models and swept values.
Every unknown key, duplicate key, wrong type or bad value raises
:class:`~deepsava.errors.InvalidConfigError` in one line, path first, e.g.
``cells[2].attack.stpes: unknown key (did you mean steps?)``.
"""

import difflib
import inspect
import itertools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
import pydantic
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from deepsava.attacks import ATTACKS, VideoAttack, make_attack
from deepsava.data import DATASETS, ON_DISK
from deepsava.data.synthetic import CLASSES as SYNTH_CLASSES
from deepsava.errors import DeepSAVAError, InvalidConfigError
from deepsava.io import SAMPLINGS, SHORT_POLICIES
from deepsava.models import model_family
from deepsava.models.user_module import check_input_options
from deepsava.perturb.ssim import WINDOW
from deepsava.select import SELECTORS

# Upper bounds where a typo would allocate absurd memory or disk (one clip of 512 frames of 512x512 is 1.6 GB).
MAX_FRAMES, MAX_SIZE, MAX_BATCH, MAX_VIDEOS, MAX_SEED = 512, 512, 512, 100_000, 2**32 - 1
MAX_STEPS, MAX_COUNT, MAX_CLASSES = 1_000_000, 100_000, 100_000
DEFAULT_CLIP = {"moving-digits": 20}  # load_dataset's frames when dataset.frames is null; 40 for the others

# -- the schema ------------------------------------------------------------------------------------


class _Schema(BaseModel):
    """Strict: no unknown keys, no coercion ("3" is not 3, true is not 1), no inf or nan."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _between(low=None, high=None, low_open=False):
    return Field(gt=low, le=high) if low_open else Field(ge=low, le=high)


class Experiment(_Schema):
    """The top level; ``dataset``, ``models`` and ``cells`` are validated by their own schemas."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description=(
        "a plain folder name (letters, digits, '.', '_', '-'; it names runs/<name>)"))]
    description: str | None = None
    dataset: dict
    models: Annotated[dict, Field(min_length=1, description="a mapping of labels to models, at least one")]
    videos: Annotated[int, _between(1, MAX_VIDEOS)]
    repeats: Annotated[int, _between(1, 1000)] = 1
    seed: Annotated[int, _between(0, MAX_SEED)] = 0
    batch_size: Annotated[int, _between(1, MAX_BATCH)] = 8
    examples: Annotated[int, _between(0, MAX_VIDEOS)] = 2
    save_videos: bool = False
    precision: Literal["fp32", "bf16"] = "fp32"
    transfer: Annotated[list, Field(min_length=1, description="a non-empty list of model labels")] | None = None
    compression: Annotated[list[Annotated[int, _between(0, 51)]], Field(
        min_length=1, description="a non-empty list of H.264 CRFs (0-51)")] | None = None
    cells: Annotated[list, Field(min_length=1, description="a non-empty list of cells")]


class Dataset(_Schema):
    name: Literal[tuple(DATASETS)]
    root: str | None = None
    split: Literal["train", "test"] = "test"
    frames: Annotated[int, _between(2, MAX_FRAMES)] | None = None
    size: Annotated[int, _between(8, MAX_SIZE)] = 64
    seed: Annotated[int, _between(0, MAX_SEED)] = 0
    options: dict | None = None


# The options of each dataset (what load_dataset(name, **options) takes); an absent option is the loader's default.
class SynthActionsOptions(_Schema):
    num_classes: Annotated[int, _between(2, len(SYNTH_CLASSES))] = None
    videos_per_class: Annotated[int, _between(2, 10_000)] = None
    extra_test: Annotated[int, _between(0, 10_000)] = None
    progress: bool = None


class MovingDigitsOptions(_Schema):
    sequences: Annotated[int, _between(1, MAX_VIDEOS)] = None
    progress: bool = None


class VideoFolderOptions(_Schema):
    fold: Annotated[int, _between(1, 3)] = None
    annotations: str = None
    sampling: Literal[SAMPLINGS] = None
    short: Literal[SHORT_POLICIES] = None
    cache: bool = None


class VideoFileOptions(_Schema):
    label: Annotated[int, _between(0)] | None = None  # null: the model's clean prediction
    classes: Annotated[list[str], Field(min_length=1)] | None = None
    sampling: Literal[SAMPLINGS] = None
    short: Literal[SHORT_POLICIES] = None


DATASET_OPTIONS = {"synth-actions": SynthActionsOptions, "moving-digits": MovingDigitsOptions,
                   "ucf101": VideoFolderOptions, "hmdb51": VideoFolderOptions, "video": VideoFileOptions}


class CheckpointModel(_Schema):
    checkpoint: str  # shipped:<name> or a checkpoint path stem


class SpecModel(_Schema):
    model: str  # i3d, torchvision:r2plus1d_18, hf:/folder, python:module:factory, ...
    weights: str | None = None
    preset: str | None = None
    num_classes: Annotated[int, _between(2, MAX_CLASSES)] | None = None
    options: dict | None = None  # a user module's input options, checked by deepsava.models


_GROUP = Annotated[str, Field(pattern=r"^\S(.*\S)?$", description="a group name (text, not blank)")]


class Cell(_Schema):
    label: str | None = None
    model: str | list | None = None  # labels, checked against ``models``
    attack: dict
    worst_case: _GROUP | Annotated[list[_GROUP], Field(min_length=1, description="a non-empty list of group names")] \
        | None = None


# -- attack parameters and selector options, from the constructors ---------------------------------

# Given by the runner, or not a configuration value.
NOT_CONFIGURED = {"self", "model", "seed", "targeted", "criterion"}
_COUNT = _between(1, MAX_COUNT)
# Bounds only the configuration sets, by parameter name, for attacks and selectors alike.
LIMITS = {
    "steps": _between(high=MAX_STEPS),
    "evaluations": _COUNT, "initial": _COUNT, "probe_steps": _COUNT, "max_candidates": _COUNT, "max_rows": _COUNT,
    "population": _between(2, MAX_COUNT), "generations": _between(0, MAX_COUNT),
    "mutation": _between(0.0, 1.0), "start": _between(0.0, low_open=True), "end": _between(0.0, low_open=True),
    "tau0": _between(0.0, low_open=True), "tau_end": _between(0.0, low_open=True), "logit_lr": _between(0.0, low_open=True),
    "queries": _between(2, 100 * MAX_STEPS), "samples": _COUNT, "scale": _between(1, MAX_SIZE),
}
TYPES = {"selector": Literal[tuple(SELECTORS)]}  # a name in the configuration; an object in Python


def constructor_parameters(cls) -> dict[str, tuple[Any, Any]]:
    """name -> (type, default) of the keyword parameters of ``cls(...)``, following ``**options`` to the base class."""
    found = {}
    for klass in cls.__mro__[:-1]:
        if "__init__" not in vars(klass):
            continue
        hints = typing.get_type_hints(klass.__init__)
        parameters = inspect.signature(klass.__init__).parameters.values()
        for p in parameters:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in NOT_CONFIGURED or p.name in found:
                continue
            kind = TYPES.get(p.name) or hints.get(p.name) or (Any if p.default is None else type(p.default))
            found[p.name] = (kind, p.default)
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return found


def _bounded(kind, limit):
    """``kind`` with the bounds ``limit`` (a pydantic Field), kept nullable when ``kind`` is."""
    if limit is None:
        return kind
    if type(None) in typing.get_args(kind):
        inner = [a for a in typing.get_args(kind) if a is not type(None)]
        return Annotated[typing.Union[tuple(inner)], limit] | None
    return Annotated[kind, limit]


def parameters_schema(cls) -> type[BaseModel]:
    """The configuration schema of an attack's parameters or a selector's options, from ``cls``'s constructor."""
    fields = {name: (_bounded(kind, LIMITS.get(name)), default)
              for name, (kind, default) in constructor_parameters(cls).items()}
    return pydantic.create_model(f"{cls.__name__}Parameters", __base__=_Schema, **fields)


ATTACK_PARAMETERS = {method: parameters_schema(cls) for method, cls in ATTACKS.items()}
SELECTOR_OPTIONS = {name: parameters_schema(cls) for name, cls in SELECTORS.items()}

# -- errors in words ---------------------------------------------------------------------------------


def _unwrap(kind) -> tuple[Any, list]:
    """(the type, its constraints and FieldInfos) of a possibly Annotated type."""
    if typing.get_origin(kind) is Annotated:
        kind, *meta = typing.get_args(kind)
        return kind, meta
    return kind, []


def _words(kind, meta=()) -> str:
    """What a value of type ``kind`` must be, in words: 'an integer in [1, 1000]', 'one of a, b', ..."""
    inner, more = _unwrap(kind)
    meta = [*meta, *more]
    for m in meta:
        if isinstance(m, FieldInfo) and m.description:
            return m.description
    constraints = [c for m in meta for c in (m.metadata if isinstance(m, FieldInfo) else [m])]
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if origin in (typing.Union, types.UnionType):
        words = " or ".join(_words(a) for a in args if a is not type(None))
        return words + (" or null" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(map(str, args))
    if inner is bool:
        return "true or false"
    names = {int: "an integer", float: "a number", str: "text", dict: "a mapping", list: "a list"}
    return names.get(origin or inner, "a value") + _range(constraints)


def _range(constraints) -> str:
    """' in [1, 10]', ' > 0.0', ... from annotated_types bounds; '' without bounds."""
    low = high = None
    low_open = False
    for c in constraints:
        if isinstance(c, (annotated_types.Ge, annotated_types.Gt)):
            low, low_open = (c.ge, False) if isinstance(c, annotated_types.Ge) else (c.gt, True)
        elif isinstance(c, annotated_types.Le):
            high = c.le
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}]"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    return f" <= {high}" if high is not None else ""


def _item(kind):
    """The item type of a list type ``kind`` (through Optional and Annotated); None for other types."""
    inner, _ = _unwrap(kind)
    if typing.get_origin(inner) in (typing.Union, types.UnionType):
        inner, _ = _unwrap(next(a for a in typing.get_args(inner) if a is not type(None)))
    return typing.get_args(inner)[0] if typing.get_origin(inner) is list else None


def _unknown(path: str, key, known) -> InvalidConfigError:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(known)})"
    return InvalidConfigError(f"{_join(path, key)}: unknown key{hint}")


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


_RANK = {"extra_forbidden": 0, "missing": 1}  # unknown keys first, then missing ones, then values


def _config_error(schema: type[BaseModel], error: pydantic.ValidationError, path: str,
                  swept: dict | None = None) -> InvalidConfigError:
    """The first error of a validation as one line, path first; ``swept``: key -> index of the swept value tried."""
    first = min(error.errors(), key=lambda e: _RANK.get(e["type"], 2))
    loc, value = first["loc"], first["input"]
    if not loc:
        return InvalidConfigError(f"{path}: must be a mapping, got {value!r}")
    key = loc[0]
    if first["type"] == "extra_forbidden":
        return _unknown(path, key, schema.model_fields)
    where = _join(path, key) + (f"[{swept[key]}]" if swept and key in swept else "")
    if first["type"] == "missing":
        return InvalidConfigError(f"{where}: required key missing")
    if first["type"] == "finite_number":
        return InvalidConfigError(f"{where}: must be a finite number, got {value!r}")
    info = schema.model_fields[key]
    kind, meta = info.annotation, [*info.metadata, info]
    for index in loc[1:]:
        if not isinstance(index, int) or _item(kind) is None:
            break
        kind, meta, where = _item(kind), [], f"{where}[{index}]"
    words = _words(kind, meta)
    hint = ""
    if first["type"] == "literal_error":
        choices = [str(c) for c in typing.get_args(_unwrap(kind)[0])]
        close = difflib.get_close_matches(str(value), choices, n=1)
        noun = path.rsplit(".", 1)[-1] if key == "name" and path else key  # dataset.name: "unknown dataset"
        hint = f" (did you mean {close[0]}?)" if close else ""
        return InvalidConfigError(f"{where}: must be one of {', '.join(choices)}: unknown {noun} {value!r}{hint}")
    if isinstance(value, str) and "a number" in words:
        try:
            float(value)
            hint = " (YAML reads 1e-3 as text: write 1.0e-3)"
        except ValueError:
            pass
    return InvalidConfigError(f"{where}: must be {words}, got {value!r}{hint}")


def _validate(schema: type[BaseModel], value, path: str, swept: dict | None = None) -> BaseModel:
    try:
        return schema.model_validate(value)
    except pydantic.ValidationError as error:
        raise _config_error(schema, error, path, swept) from None


# -- the validated experiment ------------------------------------------------------------------------


@dataclass
class CellSpec:
    """One cell of an experiment: a model label, an attack (method + explicit parameters), a display label."""

    index: int  # position after expansion
    template: int  # index of the entry of ``cells`` it came from
    label: str
    model: str
    attack: dict  # {"method": ..., explicit parameters}
    swept: dict = field(default_factory=dict)  # the values this cell takes for the template's swept keys
    worst_case: list[str] = field(default_factory=list)  # the worst-case groups it counts towards

    @property
    def method(self) -> str:
        return self.attack["method"]


@dataclass
class ExperimentConfig:
    name: str
    dataset: dict  # name, root, split, frames, size, seed, options (the options given)
    models: dict  # label -> {"checkpoint": ...} or {"model", "weights", "preset", "num_classes", "options"}
    videos: int
    repeats: int
    seed: int
    batch_size: int
    examples: int
    cells: list[CellSpec]
    description: str = ""
    source: str = ""  # the YAML text, when read from text or a file
    path: str | None = None
    transfer: list[str] = field(default_factory=list)  # target model labels (studies.transfer)
    compression: list[int] = field(default_factory=list)  # H.264 CRFs (studies.compression)
    save_videos: bool = False  # write every adversarial video
    precision: str = "fp32"  # fp32, or bf16: the model runs under bfloat16 autocast


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
    """Validate a configuration mapping (as YAML loads it, or built in Python) and expand its cells."""
    if not isinstance(data, dict):
        raise InvalidConfigError(f"an experiment config must be a mapping at the top level, got {type(data).__name__}")
    top = _validate(Experiment, data, "")
    dataset = _dataset(top.dataset)
    models = {str(label): _model(f"models.{label}", entry) for label, entry in top.models.items()}
    clip = dataset["frames"] or DEFAULT_CLIP.get(dataset["name"], 40)
    cells = []
    for i, entry in enumerate(top.cells):
        cells.extend(_expand(i, entry, models, len(cells), clip))
    for j, name in enumerate(top.transfer or []):
        _check_label(f"transfer[{j}]", name, models)
    return ExperimentConfig(
        name=top.name, description=top.description or "", dataset=dataset, models=models, videos=top.videos,
        repeats=top.repeats, seed=top.seed, batch_size=top.batch_size, examples=top.examples, cells=cells,
        transfer=list(dict.fromkeys(top.transfer or [])), compression=list(dict.fromkeys(top.compression or [])),
        save_videos=top.save_videos, precision=top.precision,
    )


def _dataset(value) -> dict:
    """``dataset``, every key present (defaults filled in), ``options`` as given."""
    spec = _validate(Dataset, value, "dataset")
    options = _validate(DATASET_OPTIONS[spec.name], spec.options or {}, "dataset.options")
    if spec.size < WINDOW:
        raise InvalidConfigError(f"dataset.size: must be at least {WINDOW} (the SSIM window every attack reports),"
                                 f" got {spec.size}")
    if spec.name in ON_DISK and spec.root is None:
        raise InvalidConfigError(f"dataset.root: required key missing ({spec.name} is read from a file or folder)")
    return {**spec.model_dump(), "options": options.model_dump(exclude_unset=True)}


def _model(path: str, entry) -> dict:
    """``models.<label>``: ``{"checkpoint": ...}``, or a spec with every key present."""
    if not isinstance(entry, dict):
        raise InvalidConfigError(f"{path}: must be a mapping with a checkpoint or a model, got {entry!r}")
    if "checkpoint" in entry and "model" in entry:
        raise InvalidConfigError(f"{path}: give either checkpoint or model, not both")
    if "checkpoint" not in entry and "model" not in entry:
        known = {**CheckpointModel.model_fields, **SpecModel.model_fields}
        for key in entry:
            if key not in known:
                raise _unknown(path, key, known)
        raise InvalidConfigError(f"{path}: needs checkpoint (shipped:<name> or a checkpoint path stem) or model"
                                 f" (a model spec such as i3d or torchvision:r2plus1d_18)")
    if "checkpoint" in entry:
        return _validate(CheckpointModel, entry, path).model_dump()
    spec = _validate(SpecModel, entry, path).model_dump()
    try:
        family, _ = model_family(spec["model"])
    except DeepSAVAError as err:
        raise InvalidConfigError(f"{path}.model: {err}") from None
    for key in spec["options"] or {}:
        if not family.options:
            raise InvalidConfigError(f"{path}.options: {family.form} takes no input options")
        if key not in family.options:
            raise _unknown(f"{path}.options", key, family.options)
    try:
        check_input_options(**spec["options"] or {})
    except DeepSAVAError as err:
        raise InvalidConfigError(f"{path}.options: {err}") from None
    return spec


def _check_label(where: str, name, models: dict) -> None:
    """``name`` must be one of the labels of ``models``."""
    if not isinstance(name, str) or name not in models:
        close = difflib.get_close_matches(str(name), list(models), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (models: {', '.join(models)})"
        raise InvalidConfigError(f"{where}: unknown model {name!r}{hint}")


def _sweepable(info: FieldInfo) -> bool:
    """A scalar parameter, so that a list of values is a sweep."""
    union = typing.get_origin(info.annotation) in (typing.Union, types.UnionType)
    kinds = [_unwrap(a)[0] for a in typing.get_args(info.annotation)] if union else [info.annotation]
    return not any(typing.get_origin(k) in (list, dict) or k in (list, dict) for k in kinds)


def _expand(i: int, entry, models: dict, start: int, clip: int) -> list[CellSpec]:
    """The cells of template ``i``; ``clip`` is the dataset's clip length, which no ``frames`` may exceed."""
    path = f"cells[{i}]"
    cell = _validate(Cell, entry, path)
    chosen = list(models) if cell.model is None else cell.model
    for j, name in enumerate(chosen if isinstance(chosen, list) else [chosen]):
        _check_label(f"{path}.model" + (f"[{j}]" if isinstance(chosen, list) else ""), name, models)
    method = cell.attack.get("method")
    if method is None:
        raise InvalidConfigError(f"{path}.attack.method: required key missing (one of {', '.join(ATTACKS)})")
    if not isinstance(method, str) or method not in ATTACKS:
        close = difflib.get_close_matches(str(method), list(ATTACKS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (one of {', '.join(ATTACKS)})"
        raise InvalidConfigError(f"{path}.attack.method: unknown method {method!r}{hint}")
    schema, where = ATTACK_PARAMETERS[method], f"{path}.attack"
    params = {k: v for k, v in cell.attack.items() if k != "method"}  # in the document's order (sweeps expand in it)
    for key in params:
        if key not in schema.model_fields:
            raise _unknown(where, key, schema.model_fields)
    swept = [k for k, v in params.items() if isinstance(v, list) and _sweepable(schema.model_fields[k])]
    for key in swept:
        if not params[key]:
            raise InvalidConfigError(f"{where}.{key}: an empty list sweeps nothing")
    cells = []
    for combo in itertools.product(*(enumerate(params[k]) for k in swept)):
        indices = {k: j for k, (j, _) in zip(swept, combo)}
        values = {k: v for k, (_, v) in zip(swept, combo)}
        checked = _validate(schema, {**params, **values}, where, indices).model_dump()
        spec = {"method": method, **{k: checked[k] for k in params}}
        if spec.get("frames") is not None and spec["frames"] > clip:
            at = f"[{indices['frames']}]" if "frames" in indices else ""
            raise InvalidConfigError(f"{where}.frames{at}: {spec['frames']} frames exceed the clip length {clip}"
                                     f" (dataset.frames)")
        _check_selector_options(where, spec, schema)
        _try_build(where, spec, indices)
        base = cell.label or method
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        groups = [cell.worst_case] if isinstance(cell.worst_case, str) else list(dict.fromkeys(cell.worst_case or []))
        for name in chosen if isinstance(chosen, list) else [chosen]:
            cells.append(CellSpec(start + len(cells), i, f"{base} ({shown})" if shown else base, name, spec, values,
                                  groups))
    return cells


def _check_selector_options(where: str, spec: dict, schema: type[BaseModel]) -> None:
    """``selector_options`` against the options of the cell's selector (given, or the attack's default)."""
    if not spec.get("selector_options"):
        return
    selector = spec.get("selector", schema.model_fields["selector"].default)
    options = SELECTOR_OPTIONS[selector]
    if not options.model_fields:
        raise InvalidConfigError(f"{where}.selector_options: selector {selector} takes no options")
    _validate(options, spec["selector_options"], f"{where}.selector_options")


class _StandIn(torch.nn.Module):
    """A model stand-in so that an attack's constructor checks run during validation."""

    name = "stand-in"
    num_classes = 2

    def forward(self, videos):  # pragma: no cover - never called
        raise RuntimeError("the stand-in model is never run")


def _try_build(where: str, spec: dict, swept: dict) -> None:
    """Build the attack once, so that its constructor's checks run; an error names the parameter it starts with."""
    try:
        build_attack(_StandIn(), spec, seed=0)
    except DeepSAVAError as err:
        first, _, rest = str(err).partition(" ")
        if first in spec:
            raise InvalidConfigError(f"{where}.{first}" + (f"[{swept[first]}]" if first in swept else "")
                                     + f": {rest}") from None
        if first in (spec.get("selector_options") or {}):
            raise InvalidConfigError(f"{where}.selector_options.{first}: {rest}") from None
        raise InvalidConfigError(f"{where}: {err}") from None


def build_attack(model, spec: dict, seed: int) -> VideoAttack:
    """The attack a cell's spec (``{"method": ..., parameters}``) describes, on ``model``, with ``seed``."""
    return make_attack(spec["method"], model, seed=seed, **{k: v for k, v in spec.items() if k != "method"})
