"""How a Hugging Face video classifier is wrapped: ``hf:FOLDER``, a folder written by ``save_pretrained``.

The folder holds ``config.json`` (architecture, ``num_frames``, ``id2label``),
``model.safetensors`` and ``preprocessor_config.json`` (or a video processor's
``video_preprocessor_config.json``). Only VideoMAE, TimeSformer and ViViT video
classifiers are built, by class name from an allow-list: no code from the folder
ever runs (``trust_remote_code`` is never set) and weights are read from
safetensors only. ``transformers`` is optional (``pip install 'deepsava[hf]'``)
and imported only when such a model is built.

Resizing. transformers 5's default processors for these models (the torchvision
backend, e.g. ``VideoMAEImageProcessor``) resize with torchvision's bilinear
filter with ``antialias=True``, which is what this wrapper does with
``F.interpolate``: on float frames the two agree to float precision. The PIL
backends (``VideoMAEImageProcessorPil``, ``VivitImageProcessor``) resize 8-bit
images with PIL's bilinear filter, whose antialiasing torch's reproduces: the
two differ only by PIL's rounding to whole pixel values, at most 1/255 and
0.3/255 on average (measured halving, shrinking by 1.1 and 2.7, and enlarging).
"""

import contextlib
import importlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from torch import nn

from deepsava.errors import InvalidArgumentError, InvalidCheckpointError
from deepsava.models.base import LOG, WrappedNetwork, class_count_error
from deepsava.models.preprocess import Preprocess
from deepsava.models.weights import summarise_keys

ARCHITECTURES = {  # class name -> model_type (used when config.json names no architecture)
    "VideoMAEForVideoClassification": "videomae",
    "TimesformerForVideoClassification": "timesformer",
    "VivitForVideoClassification": "vivit",
}
PROCESSOR_FILES = ("preprocessor_config.json", "video_preprocessor_config.json")
RESAMPLE = {2: "bilinear", 3: "bicubic"}  # PIL's codes, as processors store them


def folder_file(folder: Path, *names: str) -> Path:
    """The first of ``names`` present in ``folder``; InvalidCheckpointError naming the file when none is."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    alternatives = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    raise InvalidCheckpointError(f"Hugging Face folder {folder} lacks {names[0]}{alternatives}")


def hf_folder(target: str | Path) -> Path:
    """The absolute folder ``hf:target`` names; InvalidArgumentError when there is none."""
    folder = Path(target).expanduser().resolve()
    if not folder.is_dir():
        raise InvalidArgumentError(f"hf:{folder}: no such folder (give a folder written by save_pretrained)")
    return folder


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidCheckpointError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise InvalidCheckpointError(f"{path} must hold a JSON object")
    return data


def architecture(config: dict, folder: Path) -> str:
    """The supported class ``config.json`` names (``architectures``, else ``model_type``)."""
    of_type = [cls for cls, kind in ARCHITECTURES.items() if kind == config.get("model_type")]
    named = config.get("architectures") or of_type
    for name in named:
        if name in ARCHITECTURES:
            return name
    found = ", ".join(named) if named else f"model_type {config.get('model_type')!r}"
    raise InvalidArgumentError(f"hf:{folder} is a {found}: only {', '.join(ARCHITECTURES)} are supported")


def preprocessing(processor: dict, path: Path) -> Preprocess:
    """The processor's resize, centre crop, rescale and normalisation, on pixels in ``[0, 1]`` instead of 0..255.

    A processor multiplies 0..255 pixels by ``rescale_factor`` (1/255: our ``[0, 1]``
    exactly; ViViT's 1/127.5 with ``offset``: ``[-1, 1]``), then normalises with
    ``image_mean`` and ``image_std``. Missing switches (``do_resize`` ...) count as on.
    """

    def setting(key):
        if key not in processor:
            raise InvalidCheckpointError(f"{path} lacks {key}")
        return processor[key]

    def size(key, square: bool) -> int | tuple[int, int]:
        value = setting(key)
        if isinstance(value, int):  # a bare int: the shorter side for size, the side of a square for crop_size
            return (value, value) if square else value
        if isinstance(value, dict) and set(value) == {"shortest_edge"} and not square:
            return value["shortest_edge"]
        if isinstance(value, dict) and set(value) == {"height", "width"}:
            return value["height"], value["width"]
        raise InvalidCheckpointError(f"{path}: unsupported {key} {value!r} (give shortest_edge, or height and width)")

    resample = processor.get("resample", 2)
    if resample not in RESAMPLE:
        raise InvalidCheckpointError(f"{path}: unsupported resample {resample!r} (2, bilinear, or 3, bicubic)")
    kind = processor.get("image_processor_type") or processor.get("video_processor_type") or ""
    scale, shift = 255.0, 0.0
    if processor.get("do_rescale", True):
        scale *= setting("rescale_factor")
        shift = -1.0 if processor.get("offset", kind.startswith("Vivit")) else 0.0
    normalise = processor.get("do_normalize", True)
    return Preprocess(resize=size("size", square=False) if processor.get("do_resize", True) else None,
                      mode=RESAMPLE[resample], antialias=True,
                      crop=size("crop_size", square=True) if processor.get("do_center_crop", True) else None,
                      crop_rounding="floor", scale=scale, shift=shift, layout="BTCHW",
                      mean=setting("image_mean") if normalise else None,
                      std=setting("image_std") if normalise else None)


def import_transformers():
    try:
        return importlib.import_module("transformers")
    except ImportError:
        raise InvalidArgumentError("hf: models need the transformers package: pip install 'deepsava[hf]'") from None


@contextlib.contextmanager
def quiet_transformers():
    """transformers without its progress bars and notices (deepsava reports what the load found itself)."""
    logging = import_transformers().utils.logging
    bars, level = logging.is_progress_bar_enabled(), logging.get_verbosity()
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def load_network(model_class, folder: Path, name: str, found: int, num_classes: int, fine_tune: bool) -> nn.Module:
    """The folder's network with its ``model.safetensors``, loaded strictly by transformers (float32).

    transformers' ``from_pretrained`` reads the file (``use_safetensors=True``, local files
    only) and converts the legacy key names some checkpoints keep (e.g. VideoMAE's
    ``q_bias``), which a plain state-dict load would not. Every key must fit; only with
    ``fine_tune`` may a head for ``found`` classes be replaced by a fresh one for ``num_classes``.
    """
    if found != num_classes and not fine_tune:
        raise class_count_error(name, found, num_classes)
    weights = folder_file(folder, "model.safetensors")
    try:
        with quiet_transformers():
            net, report = model_class.from_pretrained(
                folder, num_labels=num_classes, ignore_mismatched_sizes=True, use_safetensors=True,
                local_files_only=True, output_loading_info=True, dtype=torch.float32)
    except (SafetensorError, OSError, ValueError) as err:
        raise InvalidCheckpointError(f"cannot read weights file {weights}: {str(err).strip()[:200]}") from None
    fresh_head = found != num_classes
    mismatched = [k for k, *_ in report["mismatched_keys"] if not (fresh_head and k.startswith("classifier."))]
    found_keys = {"missing": report["missing_keys"], "unexpected": report["unexpected_keys"], "mismatched": mismatched}
    problems = [f"{len(keys)} {kind} keys: {summarise_keys(sorted(keys))}" for kind, keys in found_keys.items() if keys]
    if problems:
        raise InvalidCheckpointError(f"{weights} does not fit {name}: " + "; ".join(problems))
    if fresh_head:
        LOG.info("%s: %s freshly initialised for fine-tuning (the weights' head is for %d classes,"
                 " this model's for %d)", name, HuggingFaceVideo.head_prefix, found, num_classes)
    return net


class HuggingFaceVideo(WrappedNetwork):
    """A VideoMAE, TimeSformer or ViViT classifier: pixels ``(B, T, C, H, W)`` in ``[0, 1]`` -> logits ``(B, K)``.

    Built from ``folder``'s configs; with ``pretrained``, its weights too (``load_network``).
    ``net`` is the transformers model (its keys under ``net.``), ``transform`` the processor's
    preprocessing; ``num_frames`` is the config's (these models take exactly that many),
    ``classes`` its ``id2label`` when K is the folder's class count.
    """

    head_prefix = "net.classifier."

    def __init__(self, folder: str | Path, num_classes: int | None = None, pretrained: bool = False,
                 fine_tune: bool = False):
        folder = hf_folder(folder)
        config = read_json(folder_file(folder, "config.json"))
        name = architecture(config, folder)
        processor_path = folder_file(folder, *PROCESSOR_FILES)
        transform = preprocessing(read_json(processor_path), processor_path)
        model_class = getattr(import_transformers(), name)
        settings = model_class.config_class.from_dict(config)
        labels = [settings.id2label[i] for i in range(settings.num_labels)]
        num_classes = len(labels) if num_classes is None else num_classes
        super().__init__(f"hf:{folder}", None, num_classes, classes=labels if num_classes == len(labels) else None,
                         num_frames=settings.num_frames)
        if pretrained:
            self.net = load_network(model_class, folder, self.name, len(labels), num_classes, fine_tune)
        else:
            settings.num_labels = num_classes
            self.net = model_class(settings)
        self.transform = transform

    def classify(self, videos):
        return self.net(pixel_values=self.transform(videos)).logits
