"""Where do a run's clean videos, class names and model metadata come from?

A cell's canonical configuration names its dataset exactly as
:func:`deepsava.data.load_dataset` takes it (a one-video run names the ``video``
dataset over its file), so the clean original of a stored video is the item of
that dataset with the record's video id. Class names are the model's own when its
identity records them (a foreign model), else the dataset's, else those in the
checkpoint's metadata.
"""

import json

from deepsava.errors import DeepSAVAError


class Datasets:
    """Datasets loaded again from canonical dataset specifications, each once: ``get(spec) -> (dataset, ids, why)``.

    ``ids`` maps a video id to its index; ``why`` says why the dataset is None ("" when loaded).
    """

    def __init__(self):
        self.loaded: dict[str, tuple] = {}

    def get(self, spec: dict | None) -> tuple:
        if not spec:
            return None, {}, "the run does not record its dataset"
        key = json.dumps(spec, sort_keys=True)
        if key not in self.loaded:
            from deepsava.data import load_dataset

            try:
                ds = load_dataset(spec["name"], split=spec.get("split", "test"), root=spec.get("root"),
                                  frames=spec.get("frames"), size=spec.get("size", 64), seed=spec.get("seed", 0),
                                  **(spec.get("options") or {}))
                self.loaded[key] = (ds, {vid: i for i, vid in enumerate(ds.video_ids)}, "")
            except (DeepSAVAError, OSError) as err:
                self.loaded[key] = (None, {}, f"its dataset could not be loaded again ({err})")
        return self.loaded[key]


def checkpoint_metadata(spec: str | None) -> dict:
    """The JSON metadata of a cell's checkpoint ("shipped:<name>" or a path stem); {} when there is none to read."""
    from deepsava.models.checkpoint import checkpoint_stem, read_metadata

    if not spec:
        return {}
    try:
        return read_metadata(checkpoint_stem(spec))
    except (DeepSAVAError, OSError, json.JSONDecodeError):
        return {}


def class_names(identity: dict | None, dataset, checkpoint: str | None) -> list[str] | None:
    """The names of a model's classes: its identity's ``classes``, the dataset's, or the checkpoint metadata's."""
    for names in ((identity or {}).get("classes"), getattr(dataset, "classes", None),
                  checkpoint_metadata(checkpoint).get("classes")):
        if isinstance(names, list) and names:
            return [str(name) for name in names]
    return None


def class_name(classes: list[str] | None, index) -> str:
    """The name of class ``index`` ("class 3" without names, "?" without an index)."""
    if index is None:
        return "?"
    index = int(index)
    return classes[index] if classes and 0 <= index < len(classes) else f"class {index}"
