"""What a robustness card holds: the model's identity, the protocol, and its accuracies with 95% Wilson intervals.

``card.json`` (:func:`make_card`) holds only what the computation determines, so that the same command in a
fresh folder writes it byte for byte again (no time, no duration, no folder):

- ``model``: the identity the run keys its cells with (checkpoint reference, architecture, preset and the
  SHA-256 of the weights file; for a spec, the spec, weights path and its SHA-256);
- ``dataset`` (name, root, split, frames, size, seed, options) and ``sample`` (seed, videos attacked, the
  protocol's size, the limit);
- ``protocol``: its version and every setting in full; ``software``: deepsava's and torch's versions, the device;
- ``clean_accuracy``; per setting ``clean_accuracy``, ``fooling_rate`` and ``robust_accuracy``; per worst-case
  group (each number of frames, and all settings) ``fooling_rate`` and ``robust_accuracy``; each a rate
  ``{value, low, high, count, n}`` (95% Wilson);
- ``videos``: per video, whether it was classified correctly and which settings fooled it.
"""

import json
from pathlib import Path

import torch

from deepsava import __version__
from deepsava.data.cache import atomic_path
from deepsava.experiment.runner import RunOutcome
from deepsava.experiment.store import ResultStore
from deepsava.experiment.summary import jsonable
from deepsava.experiment.worst_case import rate
from deepsava.report.robustness import CARD_JSON, card_markdown
from deepsava.robustness.protocol import ALL, setting_label

CARD_MD = "card.md"


def make_card(protocol: dict, outcome: RunOutcome, limit: int | None) -> dict:
    """The card of a finished run of ``protocol`` (its cells in the protocol's order)."""
    with ResultStore(outcome.store_path) as store:
        cells = store.cells()
        device = next((r.get("device") for r in store.records(outcome.summary[0]["cell_key"])), None)
    canonical = cells[outcome.summary[0]["cell_key"]]["config"]
    groups = {g["name"]: g for g in outcome.worst_case}
    overall = groups[ALL]
    rows = {row["label"]: row for row in outcome.summary}
    settings = []
    for setting in protocol["settings"]:
        row = rows[setting_label(setting)]
        robust = row["attacked"] - row["successes"]
        settings.append({**setting, "clean_accuracy": rate(row["attacked"], row["videos"]),
                         "fooling_rate": rate(row["successes"], row["attacked"]),
                         "robust_accuracy": rate(robust, row["videos"])})
    return jsonable({
        "card": "deepsava robustness card",
        "model": canonical["model"],
        "dataset": canonical["dataset"],
        "sample": {"seed": protocol["seed"], "videos": overall["videos"], "protocol_videos": protocol["videos"],
                   "limit": limit},
        "protocol": protocol,
        "software": {"deepsava": __version__, "torch": torch.__version__, "device": device},
        "clean_accuracy": overall["clean_accuracy"],
        "settings": settings,
        "worst_case": [{"name": g["name"], "settings": [a["label"] for a in g["attacks"]],
                        "fooling_rate": g["fooling_rate"], "robust_accuracy": g["robust_accuracy"]}
                       for g in (groups[name] for name in protocol["worst_case"])],  # all settings last
        "videos": [{k: v[k] for k in ("video_id", "label", "clean_correct", "fooled_by")} for v in overall["per_video"]],
    })


def write_card(out: Path, card: dict) -> tuple[Path, Path]:
    """Write ``out/card.json`` and ``out/card.md`` (atomically) -> their paths."""
    paths = out / CARD_JSON, out / CARD_MD
    for path, text in zip(paths, (json.dumps(card, indent=2, ensure_ascii=False) + "\n", card_markdown(card))):
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return paths
